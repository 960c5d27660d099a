"""Audit of the simulated brokers (backtest and paper share `FastSimulatedBroker`; the plain
`SimulatedBroker` is its reference): every case runs on both and is checked against numbers
worked out here from the bar, not read back from the broker.

Costs as in exec_builders: σ = 2 % per bar (the tracker never warms up), half-spread
0.05 · σ = 10 bps, impact 0.02 · sqrt(q / V) · 10⁴ bps, taker 5 bps, maker 2 bps, tick
0.01 and lot 0.001, modelled prices rounded against us.
"""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from exec_builders import DECISION_TIME, HOUR, bar, cost_model, order

from quantgate.core import Bar, OrderStatus, OrderType, Side, SimulatedClock
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.execution import SimBrokerConfig, SimulatedBroker, TimeInForce

D = Decimal
TICK = D("0.01")
TAKER_FEE_BPS, MAKER_FEE_BPS = D(5), D(2)
HALF_SPREAD_BPS = 10.0
SIGMA = 0.02
BROKERS = [SimulatedBroker, FastSimulatedBroker]


def make(kind: type[SimulatedBroker], **config: object) -> SimulatedBroker:
    settings = {"volatility_min_bars": 10_000, **config}
    return kind(
        SimulatedClock(DECISION_TIME), cost_model(), SimBrokerConfig.model_validate(settings)
    )


def taker_price(base: str, side: Side, quantity: str, volume: str) -> Decimal:
    """Half-spread plus square-root impact on `base`, rounded to the tick against us."""
    impact_bps = SIGMA * math.sqrt(float(D(quantity) / D(volume))) * 10_000
    bps = D(f"{round(HALF_SPREAD_BPS, 6) + round(impact_bps, 6):.6f}")
    raw = D(base) * (1 + side.sign * bps / 10_000)
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (raw / TICK).to_integral_value(rounding) * TICK


@pytest.mark.parametrize("kind", BROKERS)
@pytest.mark.parametrize(
    ("side", "limit", "touching", "crossing"),
    [
        # Buy at 99: the first bar's low is exactly 99, the second goes to 98.99.
        (Side.BUY, "99.00", (100.0, 101.0, 99.0), (100.0, 101.0, 98.99)),
        # Sell at 101: the first bar's high is exactly 101, the second goes to 101.01.
        (Side.SELL, "101.00", (100.0, 101.0, 99.0), (100.0, 101.01, 99.0)),
    ],
)
def test_a_resting_limit_fills_only_when_the_bar_trades_through_it(
    kind: type[SimulatedBroker],
    side: Side,
    limit: str,
    touching: tuple[float, float, float],
    crossing: tuple[float, float, float],
) -> None:
    broker = make(kind)
    broker.submit(order("rest", side, "10", OrderType.LIMIT, limit=limit))
    open_, high, low = touching
    broker.on_bar(bar(1, open=open_, high=high, low=low, close=open_, volume=1000))
    # A range that only touches the limit may have traded there entirely ahead of us.
    assert broker.fills_since(None).fills == ()

    open_, high, low = crossing
    broker.on_bar(bar(2, open=open_, high=high, low=low, close=open_, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert (fill.price, fill.fee) == (D(limit), 10 * D(limit) * MAKER_FEE_BPS / 10_000)
    assert fill.filled_at == bar(2, open=1, high=1, low=1, close=1, volume=1).ts + HOUR


@pytest.mark.parametrize("kind", BROKERS)
def test_latency_longer_than_a_bar_waits_for_the_bar_it_ends_in(
    kind: type[SimulatedBroker],
) -> None:
    # Decided at 10:00:05; 2 h 30 min later is 12:30:05, inside the bar opening at 12:00.
    broker = make(kind, latency_seconds=9000)
    broker.submit(order("slow", Side.BUY, "10"))
    for index, open_ in [(1, 100.0), (2, 101.0)]:
        broker.on_bar(
            bar(index, open=open_, high=open_ + 1, low=open_ - 1, close=open_, volume=1000)
        )
    assert broker.fills_since(None).fills == ()
    broker.on_bar(bar(3, open=102, high=103, low=101, close=102, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert fill.price == taker_price("102", Side.BUY, "10", "1000")  # 102.31
    assert fill.filled_at == DECISION_TIME + timedelta(seconds=9000)


@pytest.mark.parametrize("kind", BROKERS)
def test_the_cap_is_shared_across_orders_and_sides_and_the_rest_carries_on_lots(
    kind: type[SimulatedBroker],
) -> None:
    broker = make(kind)
    broker.submit(order("a", Side.BUY, "60"))
    broker.submit(order("b", Side.SELL, "60"))
    # 10 % of 1000.5 is 100.05: a takes 60, b the 40.05 left, on the 0.001 lot.
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000.5))
    # Then 10 % of 199.5 = 19.95: exactly what b still has to sell.
    broker.on_bar(bar(2, open=100, high=101, low=99, close=100, volume=199.5))
    fills = [(f.client_order_id, f.quantity, f.price) for f in broker.fills_since(None).fills]
    assert fills == [
        ("a", D(60), taker_price("100", Side.BUY, "60", "1000.5")),
        ("b", D("40.05"), taker_price("100", Side.SELL, "40.05", "1000.5")),
        ("b", D("19.95"), taker_price("100", Side.SELL, "19.95", "199.5")),
    ]
    state = broker.query("b")
    assert state is not None and state.status is OrderStatus.FILLED


@pytest.mark.parametrize("kind", BROKERS)
def test_a_bar_without_volume_fills_nothing_and_the_order_waits(
    kind: type[SimulatedBroker],
) -> None:
    broker = make(kind)
    broker.submit(order("gtc", Side.BUY, "5"))
    broker.submit(order("ioc", Side.BUY, "5"), time_in_force=TimeInForce.IOC)
    broker.on_bar(bar(1, open=100, high=100, low=100, close=100, volume=0))
    assert broker.fills_since(None).fills == ()
    ioc = broker.query("ioc")
    assert ioc is not None and ioc.status is OrderStatus.CANCELLED and ioc.filled_quantity == 0
    broker.on_bar(bar(2, open=100, high=101, low=99, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert (fill.client_order_id, fill.price) == ("gtc", taker_price("100", Side.BUY, "5", "1000"))


@pytest.mark.parametrize("kind", BROKERS)
def test_stops_are_symmetric_and_never_fill_from_better_than_the_trigger(
    kind: type[SimulatedBroker],
) -> None:
    broker = make(kind)
    broker.submit(order("buy_in", Side.BUY, "10", OrderType.STOP, stop="101.00"))
    broker.submit(order("sell_in", Side.SELL, "10", OrderType.STOP, stop="99.00"))
    broker.on_bar(bar(1, open=100, high=101.5, low=98.5, close=100, volume=10_000))
    broker.submit(order("buy_gap", Side.BUY, "10", OrderType.STOP, stop="101.00"))
    broker.submit(order("sell_gap", Side.SELL, "10", OrderType.STOP, stop="99.00"))
    # The clock stays at the decision time: bar 2 is still unknown when these are sent.
    broker.on_bar(bar(2, open=103, high=104, low=102, close=103, volume=10_000))
    broker.on_bar(bar(3, open=97, high=98, low=96, close=97, volume=10_000))
    prices = {f.client_order_id: f.price for f in broker.fills_since(None).fills}
    assert prices == {
        "buy_in": taker_price("101", Side.BUY, "10", "10000"),
        "sell_in": taker_price("99", Side.SELL, "10", "10000"),
        "buy_gap": taker_price("103", Side.BUY, "10", "10000"),  # the open, above 101
        "sell_gap": taker_price("97", Side.SELL, "10", "10000"),  # the open, below 99
    }


class _FeedThreadOnFirstIndexing:
    """Stands in for the broker's index lock: the first time it is taken, the feed thread
    delivers `bar` (paper mode matches on its own thread) and is given a moment to run."""

    def __init__(self, broker: FastSimulatedBroker, bar_to_deliver: Bar) -> None:
        self._lock = threading.Lock()
        self._feed = threading.Thread(target=broker.on_bars, args=((bar_to_deliver,),))

    def __enter__(self) -> None:
        if self._feed.ident is None:  # not started yet
            self._feed.start()
            self._feed.join(timeout=0.2)
        self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def join(self) -> None:
        self._feed.join(timeout=5)
        assert not self._feed.is_alive()


def test_a_paper_order_is_matched_by_a_bar_delivered_while_it_is_being_accepted() -> None:
    broker = make(FastSimulatedBroker)
    assert isinstance(broker, FastSimulatedBroker)
    next_bar = bar(1, open=100, high=101, low=99, close=100, volume=1000)
    feed = _FeedThreadOnFirstIndexing(broker, next_bar)
    broker._index_lock = feed  # type: ignore[assignment]
    broker.submit(order("ioc", Side.BUY, "10"), time_in_force=TimeInForce.IOC)
    feed.join()
    # The bar opened after the decision: the order's first and only chance is this bar.
    (fill,) = broker.fills_since(None).fills
    assert fill.price == taker_price("100", Side.BUY, "10", "1000")


@pytest.mark.parametrize("kind", BROKERS)
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_an_order_split_over_one_bar_pays_the_impact_of_the_whole(
    kind: type[SimulatedBroker], side: Side
) -> None:
    """Impact grows with the bar's whole participation: two orders of 50 in one bar cost
    what one of 100 does (before, each paid the impact of its own 50: 26 % less)."""
    whole, split = make(kind, participation_cap=1.0), make(kind, participation_cap=1.0)
    whole.submit(order("w", side, "100"))
    split.submit(order("s1", side, "50"))
    split.submit(order("s2", side, "50"))
    for broker in (whole, split):
        broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    (one,) = whole.fills_since(None).fills
    first, second = split.fills_since(None).fills
    assert one.price == taker_price("100", side, "100", "1000")  # 100.73 / 99.27
    assert first.price == taker_price("100", side, "50", "1000")  # its own 50 first
    # The second pays what its 50 add: 100 at the whole's bps less 50 at the first's.
    whole_bps = HALF_SPREAD_BPS + SIGMA * math.sqrt(0.1) * 10_000
    first_bps = HALF_SPREAD_BPS + SIGMA * math.sqrt(0.05) * 10_000
    marginal_bps = (100 * whole_bps - 50 * first_bps) / 50
    raw = D(100) * (1 + side.sign * D(f"{marginal_bps:.6f}") / 10_000)
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    assert second.price == (raw / TICK).to_integral_value(rounding) * TICK
    # Together they pay what the whole did, up to each fill's tick rounding.
    paid_split = 50 * (first.price + second.price)
    assert abs(paid_split - 100 * one.price) <= 100 * TICK


@pytest.mark.parametrize("kind", BROKERS)
def test_a_small_fill_after_a_large_one_pays_its_true_marginal_impact(
    kind: type[SimulatedBroker],
) -> None:
    """The marginal is worked out from unrounded impacts: rounding each to 1e-6 bps first
    was multiplied by (before + q) / q, tens of bps on a 0.001 fill after 99,999.999."""
    broker = make(kind, participation_cap=1.0)
    broker.submit(order("big", Side.BUY, "99999.999"))
    broker.submit(order("small", Side.BUY, "0.001"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1_000_000))
    small = {f.client_order_id: f for f in broker.fills_since(None).fills}["small"]
    # d/dq of q·c·√(q/V) is 1.5·c·√(q/V): 1.5 · 0.02 · √0.1 · 10⁴ = 94.868 bps of impact.
    marginal_bps = HALF_SPREAD_BPS + 1.5 * SIGMA * math.sqrt(0.1) * 10_000
    expected = D(100) * (1 + D(f"{marginal_bps:.6f}") / 10_000)
    assert small.price == (expected / TICK).to_integral_value(ROUND_CEILING) * TICK  # 101.05


@pytest.mark.parametrize("kind", BROKERS)
def test_a_fill_at_the_open_does_not_pay_for_a_stop_triggered_later_in_the_bar(
    kind: type[SimulatedBroker],
) -> None:
    """A stop queued first but triggered inside the bar trades after the open: the market
    order filled at the open pays its own impact only; the stop pays on top of it."""
    alone, both = make(kind, participation_cap=1.0), make(kind, participation_cap=1.0)
    both.submit(order("stop", Side.BUY, "50", OrderType.STOP, stop="100.50"))
    for broker in (alone, both):
        broker.submit(order("mkt", Side.BUY, "50"))
        broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    (by_itself,) = alone.fills_since(None).fills
    fills = {f.client_order_id: f for f in both.fills_since(None).fills}
    assert fills["mkt"].price == by_itself.price == taker_price("100", Side.BUY, "50", "1000")
    # The stop: from 100.50, what its 50 add to the open's 50 (100 at √0.1, less 50 at √0.05).
    impact = (100 * math.sqrt(0.1) - 50 * math.sqrt(0.05)) / 50 * SIGMA * 10_000
    raw = D("100.50") * (1 + D(f"{HALF_SPREAD_BPS + impact:.6f}") / 10_000)
    assert fills["stop"].price == (raw / TICK).to_integral_value(ROUND_CEILING) * TICK
