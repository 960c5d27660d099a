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
    memo = inputs.memo
    if "exposure" not in memo:
        memo["exposure"], memo["exposure_with_order"] = _exposures(inputs)
    known = memo["exposure_with_order" if with_order else "exposure"]
    assert isinstance(known, Exposure)
    return known


def _exposures(inputs: CheckInput) -> tuple[Exposure, Exposure]:
    """Without and with the order: only the order's own symbol differs, so the second
    re-prices that symbol alone and re-adds the buckets."""
    books = _books(inputs)
    symbol, order = inputs.symbol, inputs.order
    order_price = inputs.order_price()
    before: dict[str, Decimal] = {}
    for name, book in books.items():
        if name == symbol and order_price is not None:
            price = order_price
        else:
            price = _valuation_price(inputs, name, book)
        before[name] = book.worst_quantity() * price
    own = books[symbol]
    buys, sells = own.open_buys, own.open_sells
    if order.side is Side.BUY:
        buys += order.quantity
    else:
        sells += order.quantity
    own_price = order_price if order_price is not None else _valuation_price(inputs, symbol, own)
    worst = max(abs(own.position + buys), abs(own.position - sells))
    after = {**before, symbol: worst * own_price}
    return (
        Exposure(before, _by_bucket(books, before)),
        Exposure(after, _by_bucket(books, after)),
    )


def _by_bucket(books: dict[str, _Book], by_symbol: dict[str, Decimal]) -> dict[Bucket, Decimal]:
    by_bucket: dict[Bucket, Decimal] = {}
    for name, book in books.items():
        by_bucket[book.bucket] = by_bucket.get(book.bucket, Decimal(0)) + by_symbol[name]
    return by_bucket


def _books(inputs: CheckInput) -> dict[str, _Book]:
    """Positions and open orders per symbol, without the order being checked."""
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
    books.setdefault(inputs.symbol, _Book(inputs.order.instrument.bucket))
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
