"""The price an order is judged at is the highest it may trade at, and its own book is never
valued below the market: a marketable sell limit below the bid must not understate either
its notional or the short book it adds to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from quantgate.core import AssetClass, Bucket, DenyReason, Instrument, Order, OrderType, Side
from quantgate.risk import Holding, Quote, RiskContext, RiskLimits
from quantgate.risk.checks import CHECKS, CheckInput
from quantgate.risk.checks.exposure import exposure
from quantgate.risk.decision import Denial, RiskSnapshot

D = Decimal
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
BTC = Instrument(
    "BTCUSDT", "sim", AssetClass.CRYPTO_SPOT, Bucket.MAJORS, D("0.01"), D("0.001"), date(2017, 1, 1)
)
# Bid 39 980, ask 40 020, mid 40 000.
QUOTES = {"BTCUSDT": Quote(D(39_980), D(40_020), NOW)}
LIMITS = RiskLimits(
    max_order_notional=D(10_000),
    max_symbol_notional=D(20_000),
    default_max_bucket_notional=D(30_000),
    max_gross_notional=D(50_000),
)
EMPTY = RiskSnapshot(NOW, False, False, frozenset(), None, (), 0, 0, None)


def order(side: Side, kind: OrderType, price: str | None = None, quantity: str = "0.1") -> Order:
    own = None if price is None else D(price)
    return Order(
        "o1",
        "mom",
        BTC,
        side,
        kind,
        D(quantity),
        NOW,
        limit_price=own if kind is OrderType.LIMIT else None,
        stop_price=own if kind is OrderType.STOP else None,
    )


def inputs(the_order: Order, holdings: dict[str, Holding] | None = None) -> CheckInput:
    context = RiskContext(quotes=QUOTES, holdings=holdings or {})
    return CheckInput(the_order, context, EMPTY, LIMITS)


def decide(the_order: Order, holdings: dict[str, Holding] | None = None) -> Denial | None:
    checked = inputs(the_order, holdings)
    for check in CHECKS:
        denial = check(checked)
        if denial is not None:
            return denial
    return None


@pytest.mark.parametrize(
    ("side", "kind", "own", "judged", "book"),
    [
        # Market orders take the book.
        (Side.BUY, OrderType.MARKET, None, "40020", "40020"),
        (Side.SELL, OrderType.MARKET, None, "39980", "40000"),
        # A buy limit fills at or below its limit, wherever the market is.
        (Side.BUY, OrderType.LIMIT, "40200", "40200", "40200"),
        (Side.BUY, OrderType.LIMIT, "39000", "39000", "40000"),
        # A sell limit fills at or above its limit: below the bid it fills at about the bid.
        (Side.SELL, OrderType.LIMIT, "38100", "39980", "40000"),
        (Side.SELL, OrderType.LIMIT, "41000", "41000", "41000"),
        # A buy stop fills at or above its stop, and at the ask once the market is past it.
        (Side.BUY, OrderType.STOP, "41000", "41000", "41000"),
        (Side.BUY, OrderType.STOP, "39000", "40020", "40020"),
        # A sell stop: the stop, or the bid when the bid is above it.
        (Side.SELL, OrderType.STOP, "39000", "39980", "40000"),
        (Side.SELL, OrderType.STOP, "40500", "40500", "40500"),
    ],
)
def test_an_order_is_judged_at_the_highest_price_it_may_trade_at(
    side: Side, kind: OrderType, own: str | None, judged: str, book: str
) -> None:
    checked = inputs(order(side, kind, own))
    assert checked.order_price() == D(judged)
    held = {"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("0.2"), D(40_000))}
    # The own book (0.2 held, with the order 0.3 long or still 0.2) at one price, either way.
    valued = inputs(order(side, kind, own), held)
    assert exposure(valued, with_order=False).by_symbol["BTCUSDT"] == D("0.2") * D(book)


def test_a_sell_limit_without_a_fresh_reference_has_no_price() -> None:
    stale = CheckInput(order(Side.SELL, OrderType.LIMIT, "38100"), RiskContext(), EMPTY, LIMITS)
    assert stale.order_price() is None
    buy = CheckInput(order(Side.BUY, OrderType.LIMIT, "40200"), RiskContext(), EMPTY, LIMITS)
    assert buy.order_price() == D(40_200)  # its limit bounds it with or without a quote


@pytest.mark.parametrize(
    ("the_order", "holdings", "reason", "detail"),
    [
        # 0.26 at a 38 100 limit looked like 9 906; it fills at about the bid: 10 394.80.
        (
            order(Side.SELL, OrderType.LIMIT, "38100", "0.26"),
            {},
            DenyReason.MAX_ORDER_NOTIONAL,
            {"notional": "10394.80", "price": "39980", "limit": "10000"},
        ),
        (
            order(Side.SELL, OrderType.STOP, "38100", "0.26"),
            {},
            DenyReason.MAX_ORDER_NOTIONAL,
            {"notional": "10394.80", "price": "39980", "limit": "10000"},
        ),
        # Short 0.5 at the 20 000 limit: 0.02 more at a 38 100 limit is 0.52 at the mid.
        (
            order(Side.SELL, OrderType.LIMIT, "38100", "0.02"),
            {"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("-0.5"), D(40_000))},
            DenyReason.MAX_POSITION_SYMBOL,
            {"scope": "BTCUSDT", "before": "20000.0", "after": "20800.00", "limit": "20000"},
        ),
        # Long 0.5: a buy limit under the market does not value the position below the mid.
        (
            order(Side.BUY, OrderType.LIMIT, "38100", "0.02"),
            {"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("0.5"), D(40_000))},
            DenyReason.MAX_POSITION_SYMBOL,
            {"scope": "BTCUSDT", "before": "20000.0", "after": "20800.00", "limit": "20000"},
        ),
    ],
)
def test_an_order_below_the_market_cannot_slip_past_a_limit(
    the_order: Order, holdings: dict[str, Holding], reason: DenyReason, detail: dict[str, str]
) -> None:
    denial = decide(the_order, holdings)
    assert denial is not None and denial.reason is reason
    assert dict(denial.detail) == detail


def test_a_sell_that_reduces_a_long_book_is_still_allowed() -> None:
    # Over the limit long (0.6 at the mid is 24 000): a sell below the market reduces it.
    long = {"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("0.6"), D(40_000))}
    assert decide(order(Side.SELL, OrderType.LIMIT, "38100", "0.1"), long) is None
    denial = decide(order(Side.BUY, OrderType.LIMIT, "38100", "0.1"), long)
    assert denial is not None and denial.reason is DenyReason.MAX_POSITION_SYMBOL
