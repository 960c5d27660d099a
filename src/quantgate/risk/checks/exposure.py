"""Checks on exposure: per symbol, per bucket and gross, counting open orders as if filled.

Exposure is worst case: every open order (reserved, not yet filled) fills. For a
symbol that is max(|position + open buys|, |position - open sells|) times its
price. An order is denied only when it would take exposure past a limit AND
raise it: an order that reduces an over-limit book (prices moved) goes through.

The books are valued once per order and the three checks share the figures. Books
are taken in a fixed order (holdings, then open orders, then the order's own
symbol) and every sum adds its terms in that order, starting from zero: Decimal
sums round, and a denial records them as text. Every bucket's sum is worked out
with the books and the gross sums in the gross check, so an input that cannot be
summed (infinities of both signs) raises in the same check as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantgate.core.enums import Bucket, DenyReason, Side
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import Denial

ZERO = Decimal(0)
_VALUED = "valued_books"


@dataclass(frozen=True, slots=True)
class Exposure:
    by_symbol: dict[str, Decimal]
    by_bucket: dict[Bucket, Decimal]

    @property
    def gross(self) -> Decimal:
        return sum(self.by_symbol.values(), Decimal(0))


@dataclass(slots=True)  # not frozen: one is built for every order, and a frozen init costs more
class _ValuedBooks:
    """Every book valued without the order, the order's own book with it, and the buckets'
    sums without the order and, for the own book's bucket, with it."""

    buckets: dict[str, Bucket]  # each book's symbol and bucket, in book order
    values: list[Decimal]  # in book order
    own: int  # the order's own book
    own_with_order: Decimal
    by_bucket: dict[Bucket, Decimal]
    own_bucket_with_order: Decimal


def exposure(inputs: CheckInput, *, with_order: bool) -> Exposure:
    """Every symbol's and bucket's exposure, without or with the order."""
    books = _valued_books(inputs)
    by_symbol = dict(zip(books.buckets, books.values, strict=True))
    if with_order:
        by_symbol[inputs.symbol] = books.own_with_order
    by_bucket: dict[Bucket, Decimal] = {}
    for name, bucket in books.buckets.items():
        by_bucket[bucket] = by_bucket.get(bucket, Decimal(0)) + by_symbol[name]
    return Exposure(by_symbol, by_bucket)


def _valued_books(inputs: CheckInput) -> _ValuedBooks:
    memo = inputs.memo
    books: _ValuedBooks | None = memo.get(_VALUED)
    if books is None:
        books = memo[_VALUED] = _value_books(inputs)
    return books


def _value_books(inputs: CheckInput) -> _ValuedBooks:
    order = inputs.order
    symbol = order.instrument.symbol
    # A symbol's book takes the bucket of what first names it: a holding, an open order,
    # or else the order itself. Quantities add up from ZERO, as a book that starts empty.
    buckets: dict[str, Bucket] = {}
    positions: dict[str, Decimal] = {}
    for holding in inputs.context.holdings.values():
        name = holding.symbol
        position = positions.get(name)
        if position is None:
            buckets[name] = holding.bucket
            positions[name] = ZERO + holding.quantity
        else:
            positions[name] = position + holding.quantity
    open_buys: dict[str, Decimal] = {}
    open_sells: dict[str, Decimal] = {}
    for reservation in inputs.snapshot.reservations:
        name = reservation.symbol
        if name not in buckets:
            buckets[name] = reservation.bucket
        side_open = open_buys if reservation.side is Side.BUY else open_sells
        side_open[name] = side_open.get(name, ZERO) + reservation.remaining
    if symbol not in buckets:
        buckets[symbol] = order.instrument.bucket

    # Values first, then the order's own book with the order, then the sums: an input that
    # cannot be valued (an infinity, a NaN) raises at the same step as book by book.
    order_price = inputs.order_price()
    quotes = inputs.context.quotes
    values: list[Decimal] = []
    own, own_price = 0, ZERO
    for name in buckets:
        if name == symbol and order_price is not None:
            price = order_price
        elif (quote := quotes.get(name)) is not None and quote.usable:
            price = quote.mid
        else:
            price = _highest_price(inputs, name)
        if name == symbol:
            own, own_price = len(values), price
        position = positions.get(name, ZERO)
        long = abs(position + open_buys.get(name, ZERO))
        short = abs(position - open_sells.get(name, ZERO))
        values.append((short if short > long else long) * price)  # as max(): first of equals
    buys, sells = open_buys.get(symbol, ZERO), open_sells.get(symbol, ZERO)
    if order.side is Side.BUY:
        buys += order.quantity
    else:
        sells += order.quantity
    own_with_order = _worst_quantity(positions.get(symbol, ZERO), buys, sells) * own_price

    # Each bucket's sum without the order, then the own book's bucket with it: the same
    # additions up to the own book, from there its value with the order instead.
    by_bucket: dict[Bucket, Decimal] = {}
    in_book_order = list(buckets.values())
    before_own = ZERO
    for index, bucket in enumerate(in_book_order):
        total = by_bucket.get(bucket, ZERO)
        if index == own:
            before_own = total
        by_bucket[bucket] = total + values[index]
    own_bucket = in_book_order[own]
    own_bucket_with_order = before_own + own_with_order
    for index in range(own + 1, len(values)):
        if in_book_order[index] == own_bucket:
            own_bucket_with_order += values[index]
    return _ValuedBooks(
        buckets=buckets,
        values=values,
        own=own,
        own_with_order=own_with_order,
        by_bucket=by_bucket,
        own_bucket_with_order=own_bucket_with_order,
    )


def _worst_quantity(position: Decimal, open_buys: Decimal, open_sells: Decimal) -> Decimal:
    long, short = abs(position + open_buys), abs(position - open_sells)
    return short if short > long else long  # as max(): the first of two equals


def _highest_price(inputs: CheckInput, symbol: str) -> Decimal:
    """Without a usable quote, the highest price we know of (marks, then open orders'
    prices): exposure is never understated."""
    prices = [h.mark_price for h in inputs.context.holdings.values() if h.symbol == symbol]
    prices += [r.price for r in inputs.snapshot.reservations if r.symbol == symbol]
    return max(prices, default=Decimal(0))


def _denial(
    reason: DenyReason, scope: str, before: Decimal, after: Decimal, limit: Decimal
) -> Denial:
    detail = {"scope": scope, "before": str(before), "after": str(after), "limit": str(limit)}
    return Denial(reason, detail)


def symbol_position(inputs: CheckInput) -> Denial | None:
    books = _valued_books(inputs)
    before, after = books.values[books.own], books.own_with_order
    limit = inputs.limits.max_symbol_notional
    if after > limit and after > before:
        return _denial(DenyReason.MAX_POSITION_SYMBOL, inputs.symbol, before, after, limit)
    return None


def bucket_position(inputs: CheckInput) -> Denial | None:
    books = _valued_books(inputs)
    bucket = inputs.order.instrument.bucket
    before = after = books.by_bucket.get(bucket, Decimal(0))
    if books.buckets[inputs.symbol] == bucket:  # else the own book counts in another bucket
        after = books.own_bucket_with_order
    limit = inputs.limits.bucket_limit(bucket)
    if after > limit and after > before:
        return _denial(DenyReason.MAX_POSITION_BUCKET, bucket.value, before, after, limit)
    return None


def gross_exposure(inputs: CheckInput) -> Denial | None:
    books = _valued_books(inputs)
    values, own = books.values, books.own
    # The books before the own one add up alike without and with the order.
    head, tail = sum(values[:own], ZERO), values[own + 1 :]
    before = sum(tail, head + values[own])
    after = sum(tail, head + books.own_with_order)
    limit = inputs.limits.max_gross_notional
    if after > limit and after > before:
        return _denial(DenyReason.GROSS_EXPOSURE, "gross", before, after, limit)
    return None
