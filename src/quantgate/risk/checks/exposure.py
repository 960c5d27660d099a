"""Checks on exposure: per symbol, per bucket and gross, counting open orders as if filled.

Exposure is worst case: every open order (reserved, not yet filled) fills. For a
symbol that is max(|position + open buys|, |position - open sells|) times its
price. An order is denied only when it would take exposure past a limit AND
raise it: an order that reduces an over-limit book (prices moved) goes through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from quantgate.core.enums import Bucket, DenyReason, Side
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import Denial


@dataclass(slots=True)
class _Book:
    bucket: Bucket
    position: Decimal = Decimal(0)
    open_buys: Decimal = Decimal(0)
    open_sells: Decimal = Decimal(0)
    prices: list[Decimal] = field(default_factory=list)  # marks and order prices seen

    def worst_quantity(self) -> Decimal:
        return max(abs(self.position + self.open_buys), abs(self.position - self.open_sells))


@dataclass(frozen=True, slots=True)
class Exposure:
    by_symbol: dict[str, Decimal]
    by_bucket: dict[Bucket, Decimal]

    @property
    def gross(self) -> Decimal:
        return sum(self.by_symbol.values(), Decimal(0))


def exposure(inputs: CheckInput, *, with_order: bool) -> Exposure:
    books = _books(inputs, with_order=with_order)
    order_price = inputs.order_price()
    by_symbol: dict[str, Decimal] = {}
    by_bucket: dict[Bucket, Decimal] = {}
    for symbol, book in books.items():
        if symbol == inputs.symbol and order_price is not None:
            price = order_price
        else:
            price = _valuation_price(inputs, symbol, book)
        notional = book.worst_quantity() * price
        by_symbol[symbol] = notional
        by_bucket[book.bucket] = by_bucket.get(book.bucket, Decimal(0)) + notional
    return Exposure(by_symbol, by_bucket)


def _books(inputs: CheckInput, *, with_order: bool) -> dict[str, _Book]:
    books: dict[str, _Book] = {}
    for holding in inputs.context.holdings.values():
        book = books.setdefault(holding.symbol, _Book(holding.bucket))
        book.position += holding.quantity
        book.prices.append(holding.mark_price)
    for reservation in inputs.snapshot.reservations:
        book = books.setdefault(reservation.symbol, _Book(reservation.bucket))
        if reservation.side is Side.BUY:
            book.open_buys += reservation.remaining
        else:
            book.open_sells += reservation.remaining
        book.prices.append(reservation.price)
    order = inputs.order
    book = books.setdefault(inputs.symbol, _Book(order.instrument.bucket))
    if with_order:
        if order.side is Side.BUY:
            book.open_buys += order.quantity
        else:
            book.open_sells += order.quantity
    return books


def _valuation_price(inputs: CheckInput, symbol: str, book: _Book) -> Decimal:
    quote = inputs.context.quotes.get(symbol)
    if quote is not None and quote.usable:
        return quote.mid
    # Without a quote, the highest price we know of: exposure is never understated.
    return max(book.prices, default=Decimal(0))


def _limited(
    inputs: CheckInput,
    reason: DenyReason,
    measure: Callable[[Exposure], Decimal],
    limit: Decimal,
    scope: str,
) -> Denial | None:
    before = measure(exposure(inputs, with_order=False))
    after = measure(exposure(inputs, with_order=True))
    if after > limit and after > before:
        detail = {"scope": scope, "before": str(before), "after": str(after), "limit": str(limit)}
        return Denial(reason, detail)
    return None


def symbol_position(inputs: CheckInput) -> Denial | None:
    symbol = inputs.symbol
    return _limited(
        inputs,
        DenyReason.MAX_POSITION_SYMBOL,
        lambda e: e.by_symbol.get(symbol, Decimal(0)),
        inputs.limits.max_symbol_notional,
        symbol,
    )


def bucket_position(inputs: CheckInput) -> Denial | None:
    bucket = inputs.order.instrument.bucket
    return _limited(
        inputs,
        DenyReason.MAX_POSITION_BUCKET,
        lambda e: e.by_bucket.get(bucket, Decimal(0)),
        inputs.limits.bucket_limit(bucket),
        bucket.value,
    )


def gross_exposure(inputs: CheckInput) -> Denial | None:
    return _limited(
        inputs,
        DenyReason.GROSS_EXPOSURE,
        lambda e: e.gross,
        inputs.limits.max_gross_notional,
        "gross",
    )
