"""Checks on exposure: per symbol, per bucket and gross, counting open orders as if filled.

Exposure is worst case: every open order (reserved, not yet filled) fills. For a
symbol that is max(|position + open buys|, |position - open sells|) times its
price. An order is denied only when it would take exposure past a limit AND
raise it, or when it grows the worst case on its own side of zero (long for a
buy, short for a sell) and that side alone is past the limit: an order that
reduces an over-limit book (prices moved) goes through, but a sell that turns an
over-limit long into a short as large (the same worst case, on the other side)
is no reduction and is denied.

A book is valued at its quote's mid (without a usable quote, at the highest price
known of it). The order's own book is valued, with and without the order, at the
higher of that and the order's judged price (`CheckInput.order_price`, the highest
it may trade at): never below the market, and at one price on both sides of the
comparison. Valuing it at the order's own limit let a marketable sell limit below
the market understate the whole short book.

The books are valued once per order and the three checks share the figures. Books
are taken in a fixed order (holdings, then open orders, then the order's own
symbol) and every sum adds its terms in that order, starting from zero: Decimal
sums round, and a denial records them as text. Every bucket's sum is worked out
with the books and the gross sums in the gross check, so an input that cannot be
summed (infinities of both signs) raises in the same check as it always did.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantgate.core.enums import Bucket, DenyReason, Side
from quantgate.core.slots import slot_init
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import Denial

ZERO = Decimal(0)
_VALUED = "valued_books"
_BUY = Side.BUY  # a member looked up on its enum class costs a slow attribute lookup
# A book while it is gathered: [bucket, position, open buys, open sells]. A symbol nobody
# holds has position ZERO; open buys and sells are None until their first term (then ZERO
# plus that term, as a book that starts empty).
_BUCKET, _POSITION, _BUYS, _SELLS = range(4)
_Book = list[Any]


@slot_init
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

    names: Collection[str]  # each book's symbol, in book order
    buckets: list[Bucket]  # each book's bucket, in book order
    values: list[Decimal]  # in book order
    own: int  # the order's own book
    own_with_order: Decimal
    by_bucket: dict[Bucket, Decimal]
    own_bucket_with_order: Decimal
    # When the order grows the worst case on its own side of zero (long for a buy, short for
    # a sell), that side's value: it takes on exposure even if the larger side stays put.
    own_side_grown: Decimal | None


def exposure(inputs: CheckInput, *, with_order: bool) -> Exposure:
    """Every symbol's and bucket's exposure, without or with the order."""
    books = _valued_books(inputs)
    by_symbol = dict(zip(books.names, books.values, strict=True))
    if with_order:
        by_symbol[inputs.symbol] = books.own_with_order
    by_bucket: dict[Bucket, Decimal] = {}
    for name, bucket in zip(books.names, books.buckets, strict=True):
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
    books = _gather_books(inputs)
    # Values first, then the order's own book with the order, then the sums: an input that
    # cannot be valued (an infinity, a NaN) raises at the same step as book by book.
    quotes = inputs.context.quotes
    buckets: list[Bucket] = []
    values: list[Decimal] = []
    own, own_price = 0, ZERO
    for name, (bucket, position, buys, sells) in books.items():
        quote = quotes.get(name)
        mid = None if quote is None else quote.usable_mid()
        price = _highest_price(inputs, name) if mid is None else mid
        if name == symbol:
            price = inputs.book_price(price)
            own, own_price = len(values), price
        buckets.append(bucket)
        if buys is None and sells is None and not position.is_nan():
            # With no open orders the worst case is |position + 0| against |position - 0|:
            # the same number, the first kept (as max()), and that is |position| itself,
            # a sum from ZERO in this same context getting nothing from adding ZERO again.
            # Only a NaN, which their comparison raises on, needs the long way.
            values.append(abs(position) * price)
            continue
        long = abs(position + (ZERO if buys is None else buys))
        short = abs(position - (ZERO if sells is None else sells))
        values.append((short if short > long else long) * price)  # as max(): first of equals
    own_book = books[symbol]
    position, buys, sells = own_book[_POSITION], own_book[_BUYS], own_book[_SELLS]
    if buys is None:
        buys = ZERO
    if sells is None:
        sells = ZERO
    if order.side is _BUY:
        side_before = position + buys
        buys += order.quantity
        side_after = position + buys
    else:
        side_before = sells - position
        sells += order.quantity
        side_after = sells - position
    own_side_grown = (
        side_after * own_price if side_after > ZERO and side_after > side_before else None
    )
    own_with_order = _worst_quantity(position, buys, sells) * own_price

    # Each bucket's sum without the order, then the own book's bucket with it: the same
    # additions up to the own book, from there its value with the order instead.
    by_bucket: dict[Bucket, Decimal] = {}
    before_own = ZERO
    for index, bucket in enumerate(buckets):
        total = by_bucket.get(bucket, ZERO)
        if index == own:
            before_own = total
        by_bucket[bucket] = total + values[index]
    own_bucket = buckets[own]
    own_bucket_with_order = before_own + own_with_order
    for index in range(own + 1, len(values)):
        if buckets[index] == own_bucket:
            own_bucket_with_order += values[index]
    return _ValuedBooks(
        books.keys(),
        buckets,
        values,
        own,
        own_with_order,
        by_bucket,
        own_bucket_with_order,
        own_side_grown,
    )


def _gather_books(inputs: CheckInput) -> dict[str, _Book]:
    """Every symbol's book, in book order: holdings, then open orders, then the order's own.
    A symbol's book takes the bucket of what first names it."""
    books: dict[str, _Book] = {}
    for holding in inputs.context.holdings.values():
        book = books.get(holding.symbol)
        if book is None:
            books[holding.symbol] = [holding.bucket, ZERO + holding.quantity, None, None]
        else:  # every book so far was opened by a holding
            book[_POSITION] += holding.quantity
    for reservation in inputs.snapshot.reservations:
        book = books.get(reservation.symbol)
        if book is None:
            book = books[reservation.symbol] = [reservation.bucket, ZERO, None, None]
        side = _BUYS if reservation.side is _BUY else _SELLS
        open_so_far = book[side]
        book[side] = (ZERO if open_so_far is None else open_so_far) + reservation.remaining
    instrument = inputs.order.instrument
    if instrument.symbol not in books:
        books[instrument.symbol] = [instrument.bucket, ZERO, None, None]
    return books


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


def _grown_past(books: _ValuedBooks, after: Decimal, limit: Decimal) -> bool:
    """The order grows its own side, and the total `after` (which holds the own book at its
    worst case with the order) is past the limit with the own book at that side instead."""
    grown = books.own_side_grown
    return grown is not None and after - books.own_with_order + grown > limit


def symbol_position(inputs: CheckInput) -> Denial | None:
    books = _valued_books(inputs)
    before, after = books.values[books.own], books.own_with_order
    limit = inputs.limits.max_symbol_notional
    if after > limit and (after > before or _grown_past(books, after, limit)):
        return _denial(DenyReason.MAX_POSITION_SYMBOL, inputs.symbol, before, after, limit)
    return None


def bucket_position(inputs: CheckInput) -> Denial | None:
    books = _valued_books(inputs)
    bucket = inputs.order.instrument.bucket
    before = after = books.by_bucket.get(bucket, ZERO)
    if books.buckets[books.own] == bucket:  # else the own book counts in another bucket
        after = books.own_bucket_with_order
    limit = inputs.limits.bucket_limit(bucket)
    own_in_bucket = books.buckets[books.own] == bucket
    if after > limit and (after > before or (own_in_bucket and _grown_past(books, after, limit))):
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
    if after > limit and (after > before or _grown_past(books, after, limit)):
        return _denial(DenyReason.GROSS_EXPOSURE, "gross", before, after, limit)
    return None
