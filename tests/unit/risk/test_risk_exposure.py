"""The exposure checks against a plain model of the rules in `quantgate.risk.checks.exposure`:
the same figures to the last digit (Decimal sums round, and denials record them as text),
and the same exceptions on books that cannot be valued."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from quantgate.core import AssetClass, Bucket, Instrument, Order, OrderType, Side
from quantgate.risk import Holding, Quote, RiskContext, RiskLimits
from quantgate.risk.checks import CheckInput
from quantgate.risk.checks.exposure import (
    bucket_position,
    exposure,
    gross_exposure,
    symbol_position,
)
from quantgate.risk.decision import Denial, Reservation, RiskSnapshot
from quantgate.risk.memory import Held

D = Decimal
ZERO = D(0)
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
SYMBOLS = {"BTC": Bucket.MAJORS, "ETH": Bucket.MAJORS, "SOL": Bucket.L1, "DOGE": Bucket.MEME}
# Limits no book reaches down to: every check that would raise the exposure denies, so its
# detail shows the figures.
TINY = RiskLimits(
    max_symbol_notional=D("1E-20"),
    default_max_bucket_notional=D("1E-20"),
    max_gross_notional=D("1E-20"),
)
EMPTY = RiskSnapshot(NOW, False, False, frozenset(), None, (), 0, 0, None)


def instrument(symbol: str, bucket: Bucket | None = None) -> Instrument:
    return Instrument(
        symbol,
        "sim",
        AssetClass.CRYPTO_SPOT,
        bucket or SYMBOLS[symbol],
        D("1E-8"),
        D("1E-8"),
        date(2017, 1, 1),
    )


def market_order(symbol: str, side: Side, quantity: Decimal, bucket: Bucket | None = None) -> Order:
    return Order("o", "mom", instrument(symbol, bucket), side, OrderType.MARKET, quantity, NOW)


def model(
    inputs: CheckInput,
) -> tuple[dict[str, Bucket], dict[str, Decimal], Decimal, Decimal | None]:
    """Each book's bucket and worst-case value without the order, the own book's value
    with it, and, when the order grows the worst case on its own side of zero, that side's
    value: books in
    the order holdings, open orders, the order's own symbol, each taking the bucket of
    what names it first; every sum from zero, term by term in that order."""
    order, symbol = inputs.order, inputs.order.instrument.symbol
    buckets: dict[str, Bucket] = {}
    positions: dict[str, Decimal] = {}
    buys: dict[str, Decimal] = {}
    sells: dict[str, Decimal] = {}
    for holding in inputs.context.holdings.values():
        buckets.setdefault(holding.symbol, holding.bucket)
        positions[holding.symbol] = positions.get(holding.symbol, ZERO) + holding.quantity
    for reservation in inputs.snapshot.reservations:
        buckets.setdefault(reservation.symbol, reservation.bucket)
        side = buys if reservation.side is Side.BUY else sells
        side[reservation.symbol] = side.get(reservation.symbol, ZERO) + reservation.remaining
    buckets.setdefault(symbol, order.instrument.bucket)

    def worst(position: Decimal, open_buys: Decimal, open_sells: Decimal) -> Decimal:
        long, short = abs(position + open_buys), abs(position - open_sells)
        return short if short > long else long

    def reference(name: str) -> Decimal:
        quote = inputs.context.quotes.get(name)
        if quote is not None and quote.usable:
            return quote.mid
        marks = [h.mark_price for h in inputs.context.holdings.values() if h.symbol == name]
        marks += [r.price for r in inputs.snapshot.reservations if r.symbol == name]
        return max(marks, default=ZERO)

    def price(name: str) -> Decimal:
        # The own book at the order's judged price when that is higher: never below the mid.
        own_price = inputs.order_price()
        if name == symbol and own_price is not None and own_price > reference(name):
            return own_price
        return reference(name)

    values = {
        name: worst(positions.get(name, ZERO), buys.get(name, ZERO), sells.get(name, ZERO))
        * price(name)
        for name in buckets
    }
    own_buys, own_sells = buys.get(symbol, ZERO), sells.get(symbol, ZERO)
    position = positions.get(symbol, ZERO)
    # The long side's worst case (position + buys) for a buy, the short side's for a sell.
    side_before = position + own_buys if order.side is Side.BUY else own_sells - position
    if order.side is Side.BUY:
        own_buys += order.quantity
    else:
        own_sells += order.quantity
    side_after = position + own_buys if order.side is Side.BUY else own_sells - position
    with_order = worst(position, own_buys, own_sells) * price(symbol)
    grown = side_after * price(symbol) if side_after > max(side_before, ZERO) else None
    return buckets, values, with_order, grown


def sums_by_bucket(buckets: dict[str, Bucket], values: dict[str, Decimal]) -> dict[Bucket, Decimal]:
    sums: dict[Bucket, Decimal] = {}
    for name, bucket in buckets.items():
        sums[bucket] = sums.get(bucket, ZERO) + values[name]
    return sums


def expected_denials(inputs: CheckInput) -> list[dict[str, str] | None]:
    """What the symbol, bucket and gross checks record under limits of next to nothing."""
    buckets, values, own_with_order, grown = model(inputs)
    symbol, bucket = inputs.order.instrument.symbol, inputs.order.instrument.bucket
    after_values = {**values, symbol: own_with_order}
    bucket_before = sums_by_bucket(buckets, values).get(bucket, ZERO)
    bucket_after = sums_by_bucket(buckets, after_values).get(bucket, ZERO)
    if buckets[symbol] != bucket:  # the own book counts in the bucket that named it first
        bucket_after = bucket_before
    # A grown own side counts where the own book counts: not in a bucket it is not in.
    own_in_bucket = buckets[symbol] == bucket
    figures = [
        (symbol, values[symbol], own_with_order, grown is not None),
        (bucket.value, bucket_before, bucket_after, grown is not None and own_in_bucket),
        ("gross", sum(values.values(), ZERO), sum(after_values.values(), ZERO), grown is not None),
    ]
    grown = ZERO if grown is None else grown
    return [
        {"scope": scope, "before": str(before), "after": str(after), "limit": "1E-20"}
        if after > TINY.max_gross_notional
        and (after > before or (grows and after - own_with_order + grown > TINY.max_gross_notional))
        else None
        for scope, before, after, grows in figures
    ]


def random_decimal(rng: random.Random, signed: bool = False) -> Decimal:
    # Mixed exponents and lengths, so that sums round and trailing zeros show in the text.
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
    value = D(f"{digits}E{rng.randint(-12, 3)}")
    return -value if signed and rng.random() < 0.5 else value


def random_inputs(rng: random.Random) -> CheckInput:
    names = list(SYMBOLS)
    holdings = {}
    for index in range(rng.randint(0, 5)):
        name = rng.choice(names)  # a symbol may be held twice, under two keys
        holdings[f"{name}#{index}"] = Holding(
            name, SYMBOLS[name], random_decimal(rng, signed=True), random_decimal(rng)
        )
    reservations = tuple(
        Reservation(
            f"r{index}",
            "s",
            (name := rng.choice(names)),
            SYMBOLS[name],
            rng.choice([Side.BUY, Side.SELL]),
            random_decimal(rng),
            random_decimal(rng),
        )
        for index in range(rng.randint(0, 4))
    )
    quotes = {}
    for name in names:
        roll = rng.random()
        if roll < 0.15:
            continue  # no quote: valued at the highest price known
        bid = random_decimal(rng)
        ask = bid - D(1) if roll < 0.25 else bid + random_decimal(rng)  # crossed: unusable
        quotes[name] = Quote(bid, ask, NOW)
    symbol = rng.choice(names)
    if symbol not in quotes or not quotes[symbol].usable:
        quotes[symbol] = Quote(D("99.5"), D("100.5"), NOW)
    # The order's bucket may differ from the one its symbol's book took first.
    bucket = rng.choice([SYMBOLS[symbol], Bucket.OTHER])
    order = market_order(symbol, rng.choice([Side.BUY, Side.SELL]), random_decimal(rng), bucket)
    snapshot = replace(EMPTY, reservations=reservations)
    return CheckInput(order, RiskContext(quotes=quotes, holdings=holdings), snapshot, TINY)


def detail(denial: Denial | None) -> dict[str, str] | None:
    return None if denial is None else dict(denial.detail)


@pytest.mark.parametrize("seed", range(300))
def test_exposure_figures_match_the_plain_model_digit_for_digit(seed: int) -> None:
    inputs = random_inputs(random.Random(seed))
    actual = [detail(check(inputs)) for check in (symbol_position, bucket_position, gross_exposure)]
    assert actual == expected_denials(inputs)
    buckets, values, own_with_order, _ = model(inputs)
    without = exposure(inputs, with_order=False)
    assert texts(without.by_symbol) == texts(values)
    assert texts(without.by_bucket) == texts(sums_by_bucket(buckets, values))
    with_order = exposure(inputs, with_order=True)
    assert str(with_order.by_symbol[inputs.order.instrument.symbol]) == str(own_with_order)


def texts(figures: Mapping[Any, Decimal]) -> dict[Any, str]:
    return {key: str(value) for key, value in figures.items()}


def books(*holdings: Holding) -> CheckInput:
    context = RiskContext(
        quotes={"BTC": Quote(D(100), D(100), NOW), "ETH": Quote(D(10), D(10), NOW)},
        holdings={str(index): holding for index, holding in enumerate(holdings)},
    )
    return CheckInput(market_order("BTC", Side.BUY, D(1)), context, EMPTY, TINY)


@pytest.mark.parametrize(
    "holdings",
    [
        # NaN: the comparison of its long and short side raises.
        (Holding("ETH", Bucket.MAJORS, D("NaN"), D(10)),),
        # No quote, and a zero mark: infinity times zero.
        (Holding("SOL", Bucket.L1, D("Infinity"), D(0)),),
        # Infinities of both signs in one bucket's sum (SOL has no quote: its mark counts).
        (
            Holding("ETH", Bucket.MAJORS, D("Infinity"), D(10)),
            Holding("SOL", Bucket.MAJORS, D(1), D("-Infinity")),
        ),
    ],
)
def test_a_book_that_cannot_be_valued_raises_in_the_symbol_check(
    holdings: tuple[Holding, ...],
) -> None:
    inputs = books(Holding("BTC", Bucket.MAJORS, D(1), D(100)), *holdings)
    with pytest.raises(InvalidOperation):
        symbol_position(inputs)


def test_an_infinite_position_is_valued_as_infinite() -> None:
    inputs = books(Holding("ETH", Bucket.MAJORS, D("-Infinity"), D(10)))
    assert exposure(inputs, with_order=False).by_symbol["ETH"] == D("Infinity")


@pytest.mark.parametrize(
    ("bid", "ask", "mid"),
    [
        ("99", "101", "100"),
        ("101", "99", None),  # crossed
        ("0", "1", None),
        ("NaN", "1", None),
        ("1", "Infinity", None),
    ],
)
def test_a_quote_gives_its_mid_only_when_usable(bid: str, ask: str, mid: str | None) -> None:
    quote = Quote(D(bid), D(ask), NOW)
    expected = None if mid is None else D(mid)
    assert quote.usable_mid() == expected
    if mid is None and quote.bid.is_finite() and quote.ask.is_finite():
        assert quote.mid is not None  # worked out and kept, yet still no reference
    assert quote.usable_mid() == expected


def test_orders_sharing_an_events_holdings_and_quotes_see_every_change_between_them() -> None:
    # The engine hands every order of an event the same holdings dict and the same Quote
    # objects (only the order's own symbol's quote differs). Whatever the gate reuses across
    # those orders, each one's figures must follow what changed since the last: a new
    # reservation, a partial fill shrinking a live record in place, a holding replaced in
    # the shared dict (equal in value, other digits), a quote replaced.
    holdings = {
        "BTC": Holding("BTC", Bucket.MAJORS, D("2"), D(100)),
        "ETH": Holding("ETH", Bucket.MAJORS, D("3"), D(10)),
        "SOL": Holding("SOL", Bucket.L1, D("-5"), D(4)),
    }
    quotes = {name: Quote(D(price), D(price), NOW) for name, price in (("ETH", "10"), ("SOL", "4"))}
    held = Held("r1", "mom", "SOL", Bucket.L1, Side.BUY, D("7"), D(4), D("7"))

    def check_order(snapshot: RiskSnapshot) -> None:
        own = {"BTC": Quote(D("99.5"), D("100.5"), NOW)}
        context = RiskContext(quotes={**quotes, **own}, holdings=holdings)
        order = market_order("BTC", Side.BUY, D("1.5"))
        inputs = CheckInput(order, context, snapshot, TINY)
        actual = [
            detail(check(inputs)) for check in (symbol_position, bucket_position, gross_exposure)
        ]
        assert actual == expected_denials(replace(inputs, memo={}))

    check_order(EMPTY)
    reserved = replace(EMPTY, reservations=(held,))
    check_order(reserved)  # a reservation added
    held.remaining = D("2.50")  # a partial fill, in place
    check_order(reserved)
    holdings["ETH"] = Holding("ETH", Bucket.MAJORS, D("3.000"), D(10))  # same value, other text
    check_order(reserved)
    quotes["SOL"] = Quote(D("4.10"), D("4.10"), NOW)
    check_order(reserved)
