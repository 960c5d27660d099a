"""The gate's checks as pure functions of (order, context, snapshot, limits)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from quantgate.core import AssetClass, Bucket, DenyReason, Instrument, Order, OrderType, Side
from quantgate.risk import Holding, Quote, RiskContext, RiskLimits
from quantgate.risk.checks import CHECKS, CheckInput
from quantgate.risk.checks.exposure import exposure
from quantgate.risk.decision import DailyAnchor, Denial, Effect, Reservation, RiskSnapshot

D = Decimal
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
BTC = Instrument(
    "BTCUSDT",
    "binance",
    AssetClass.CRYPTO_SPOT,
    Bucket.MAJORS,
    D("0.01"),
    D("0.001"),
    date(2017, 1, 1),
)
LIMITS = RiskLimits(
    max_order_notional=D(10_000),
    max_symbol_notional=D(20_000),
    default_max_bucket_notional=D(30_000),
    max_gross_notional=D(50_000),
)
EMPTY = RiskSnapshot(
    now=NOW,
    kill_switch=False,
    daily_loss_latched=False,
    disabled_strategies=frozenset(),
    daily_anchor=None,
    reservations=(),
    orders_in_rate_window=0,
    executions_in_window=0,
    duplicate_of=None,
)
QUOTES = {"BTCUSDT": Quote(D(39_999), D(40_001), NOW)}


def order(side: Side = Side.BUY, quantity: str | Decimal = "0.1", **changes: object) -> Order:
    base = Order("o1", "mom", BTC, side, OrderType.LIMIT, D(quantity), NOW, limit_price=D(40_000))
    return replace(base, **changes)  # type: ignore[arg-type]


def decide(
    the_order: Order,
    context: RiskContext | None = None,
    snapshot: RiskSnapshot = EMPTY,
    limits: RiskLimits = LIMITS,
) -> Denial | None:
    inputs = CheckInput(the_order, context or RiskContext(quotes=QUOTES), snapshot, limits)
    for check in CHECKS:
        denial = check(inputs)
        if denial is not None:
            return denial
    return None


def reservation(side: Side, remaining: str, symbol: str = "BTCUSDT") -> Reservation:
    return Reservation("r", "x", symbol, Bucket.MAJORS, side, D(remaining), D(40_000))


def test_a_plain_order_passes() -> None:
    assert decide(order()) is None


@pytest.mark.parametrize("quantity", ["0", "-1", "NaN", "Infinity", "sNaN"])
def test_non_positive_or_non_finite_quantities(quantity: str) -> None:
    denial = decide(order(quantity=D(quantity)))
    assert denial is not None and denial.reason is DenyReason.INVALID_QUANTITY


@pytest.mark.parametrize("price", ["0", "-40000", "NaN", "-Infinity"])
def test_non_positive_or_non_finite_prices(price: str) -> None:
    denial = decide(order(limit_price=D(price)))
    assert denial is not None and denial.reason is DenyReason.INVALID_PRICE


def test_market_orders_are_judged_at_the_side_of_the_book_they_take() -> None:
    market = order(quantity="0.25", order_type=OrderType.MARKET, limit_price=None)
    # 0.25 · 40 001 = 10 000.25 > 10 000 for a buy; a sell gets the bid: 9 999.75.
    buy = decide(market)
    assert buy is not None and buy.reason is DenyReason.MAX_ORDER_NOTIONAL
    assert buy.detail["notional"] == "10000.25"
    assert decide(replace(market, side=Side.SELL)) is None


def test_worst_case_exposure_counts_open_orders_on_both_sides() -> None:
    context = RiskContext(
        quotes=QUOTES,
        holdings={"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("0.2"), D(40_000))},
    )
    snapshot = replace(
        EMPTY, reservations=(reservation(Side.BUY, "0.1"), reservation(Side.SELL, "0.5"))
    )
    inputs = CheckInput(order(Side.BUY, "0.1"), context, snapshot, LIMITS)
    # Long: 0.2 + 0.1 + 0.1 = 0.4; short: 0.2 - 0.5 = -0.3 → worst 0.4 · 40 000 = 16 000.
    assert exposure(inputs, with_order=True).by_symbol["BTCUSDT"] == D(16_000)
    # Without the order: max(0.3, 0.3) · 40 000.
    assert exposure(inputs, with_order=False).by_symbol["BTCUSDT"] == D(12_000)


def test_an_order_that_reduces_an_over_limit_position_is_allowed() -> None:
    over = RiskContext(
        quotes=QUOTES,
        holdings={"BTCUSDT": Holding("BTCUSDT", Bucket.MAJORS, D("0.6"), D(40_000))},  # 24 000
    )
    assert decide(order(Side.SELL, "0.1"), over) is None
    denial = decide(order(Side.BUY, "0.1"), over)
    assert denial is not None and denial.reason is DenyReason.MAX_POSITION_SYMBOL


def test_collar_spread_and_freshness() -> None:
    stale = RiskContext(quotes={"BTCUSDT": Quote(D(39_999), D(40_001), NOW - timedelta(hours=1))})
    crossed = RiskContext(quotes={"BTCUSDT": Quote(D(40_001), D(39_999), NOW)})
    wide = RiskContext(quotes={"BTCUSDT": Quote(D(39_800), D(40_200), NOW)})  # 100 bps
    far = order(limit_price=D(42_001))  # 5.0 % above a 40 000 mid
    reasons = [
        decide(order(), stale),
        decide(order(), crossed),
        decide(order(), RiskContext()),
        decide(order(), wide),
        decide(far),
    ]
    assert [d.reason if d else None for d in reasons] == [
        DenyReason.NO_FRESH_REFERENCE,
        DenyReason.NO_FRESH_REFERENCE,
        DenyReason.NO_FRESH_REFERENCE,
        DenyReason.SPREAD_TOO_WIDE,
        DenyReason.PRICE_COLLAR,
    ]
    assert decide(order(limit_price=D(42_000))) is None  # exactly on the 500 bps collar


def test_daily_loss_latches_from_the_anchor() -> None:
    anchored = replace(EMPTY, daily_anchor=DailyAnchor(NOW.date(), D(10_000)))
    limits = LIMITS.model_copy(update={"max_daily_loss": D(500)})
    ok = decide(order(), RiskContext(quotes=QUOTES, equity=D("9500.01")), anchored, limits)
    assert ok is None
    hit = decide(order(), RiskContext(quotes=QUOTES, equity=D(9_500)), anchored, limits)
    assert hit is not None and hit.reason is DenyReason.DAILY_LOSS_LATCHED
    assert hit.effect is Effect.LATCH_DAILY_LOSS and hit.detail["loss"] == "500"


def test_switches_come_before_everything_else() -> None:
    broken = order(quantity=D("NaN"))
    assert decide(broken, snapshot=replace(EMPTY, kill_switch=True)).reason is (  # type: ignore[union-attr]
        DenyReason.KILL_SWITCH
    )
    disabled = replace(EMPTY, disabled_strategies=frozenset({"mom"}))
    assert decide(broken, snapshot=disabled).reason is DenyReason.STRATEGY_DISABLED  # type: ignore[union-attr]


def test_repeated_execution_disables_the_strategy() -> None:
    busy = replace(EMPTY, executions_in_window=LIMITS.max_executions_per_strategy_symbol)
    denial = decide(order(), snapshot=busy)
    assert denial is not None and denial.reason is DenyReason.STRATEGY_DISABLED
    assert denial.effect is Effect.DISABLE_STRATEGY
