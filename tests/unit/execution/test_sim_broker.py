"""The simulated broker against hand-computed fills.

Unless a test says otherwise: σ = 2 % per bar (the cost model's default, the
tracker never warms up), so the half-spread is 0.05 · 200 bps = 10 bps and the
impact is 1 · 0.02 · sqrt(q / V) · 10⁴ bps; taker fee 5 bps, maker fee 2 bps;
tick 0.01, and modelled prices round against us to the tick.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from exec_builders import DECISION_TIME, HOUR, bar, cost_model, order

from quantgate.core import Fill, OrderStatus, OrderType, Side, SimulatedClock
from quantgate.execution import (
    CostBreakdown,
    CostModel,
    Liquidity,
    MarketContext,
    SimBrokerConfig,
    SimulatedBroker,
    SubmitOutcome,
    TimeInForce,
)

D = Decimal


def make_broker(clock: SimulatedClock, **config: object) -> SimulatedBroker:
    settings = {"volatility_min_bars": 10_000, **config}
    return SimulatedBroker(clock, cost_model(), SimBrokerConfig.model_validate(settings))


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(DECISION_TIME)


def test_market_order_fills_at_the_next_bar_open_never_the_signal_bar(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock)
    assert broker.submit(order("m1", Side.BUY, "10")).outcome is SubmitOutcome.ACCEPTED

    # The bar that produced the signal would fill at any price: it must not be used.
    broker.on_bar(bar(0, open=50, high=200, low=10, close=100, volume=1e6))
    assert broker.fills_since(None).fills == ()

    clock.advance_to(DECISION_TIME + HOUR)
    broker.on_bar(bar(1, open=100, high=102, low=99, close=101, volume=1000))
    # participation 10/1000 → impact 0.02·0.1·10⁴ = 20 bps; + 10 bps half-spread = 30 bps
    # 100 · 1.003 = 100.30; fee 10 · 100.30 · 0.0005 = 0.5015
    (fill,) = broker.fills_since(None).fills
    assert fill == Fill(
        trade_id="sim-m1-1",
        client_order_id="m1",
        symbol="TEST",
        side=Side.BUY,
        quantity=D("10"),
        price=D("100.30"),
        fee=D("0.5015"),
        filled_at=DECISION_TIME,  # live at 10:00:05, after the bar opened at 10:00
    )
    state = broker.query("m1")
    assert state is not None and state.status is OrderStatus.FILLED


def test_sell_market_order_receives_less_by_the_same_costs(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    broker.submit(order("s1", Side.SELL, "10"))
    broker.on_bar(bar(1, open=100, high=102, low=99, close=101, volume=1000))
    # 100 · (1 - 0.003) = 99.70; fee 10 · 99.70 · 0.0005 = 0.4985
    (fill,) = broker.fills_since(None).fills
    assert (fill.price, fill.fee) == (D("99.70"), D("0.4985"))


def test_partial_fills_respect_the_participation_cap_and_carry_over(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock, participation_cap=0.25)
    broker.submit(order("p1", Side.BUY, "250"))

    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=400))
    state = broker.query("p1")
    assert state is not None
    assert state.status is OrderStatus.PARTIALLY_FILLED and state.filled_quantity == D(100)

    broker.on_bar(bar(2, open=101, high=102, low=100, close=101, volume=400))
    broker.on_bar(bar(3, open=102, high=103, low=101, close=102, volume=200))
    fills = broker.fills_since(None).fills
    # Every bar: participation 0.25 → impact 0.02·0.5·10⁴ = 100 bps; + 10 = 110 bps.
    # bar 1: 100 @ 100·1.011 = 101.10,                fee 100·101.10·0.0005 = 5.055
    # bar 2: 100 @ 101·1.011 = 102.111 → 102.12 (up), fee 100·102.12·0.0005 = 5.106
    # bar 3:  50 @ 102·1.011 = 103.122 → 103.13 (up), fee  50·103.13·0.0005 = 2.57825
    assert [(f.trade_id, f.quantity, f.price, f.fee) for f in fills] == [
        ("sim-p1-1", D(100), D("101.10"), D("5.055")),
        ("sim-p1-2", D(100), D("102.12"), D("5.106")),
        ("sim-p1-3", D(50), D("103.13"), D("2.57825")),
    ]
    state = broker.query("p1")
    assert state is not None
    assert state.status is OrderStatus.FILLED and state.filled_quantity == D(250)


def test_ioc_remainder_is_cancelled_after_its_first_bar(clock: SimulatedClock) -> None:
    broker = make_broker(clock, participation_cap=0.25)
    broker.submit(order("i1", Side.BUY, "250"), time_in_force=TimeInForce.IOC)
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=400))
    broker.on_bar(bar(2, open=100, high=101, low=99, close=100, volume=400))
    state = broker.query("i1")
    assert state is not None
    assert state.status is OrderStatus.CANCELLED
    assert state.filled_quantity == D(100)
    assert [f.price for f in state.fills] == [D("101.10")]


def test_the_cap_is_shared_by_our_orders_first_come_first_served(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    broker.submit(order("a", Side.BUY, "80"))
    broker.submit(order("b", Side.BUY, "80"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    fills = {f.client_order_id: f.quantity for f in broker.fills_since(None).fills}
    assert fills == {"a": D(80), "b": D(20)}  # 10 % of 1000 = 100 in total


def test_resting_limit_fills_at_its_price_as_maker_when_the_range_reaches_it(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock)
    broker.submit(order("l1", Side.BUY, "10", OrderType.LIMIT, limit="99.50"))
    broker.on_bar(bar(1, open=100, high=101, low=99.6, close=100, volume=1000))
    assert broker.fills_since(None).fills == ()
    broker.on_bar(bar(2, open=100, high=101, low=99.2, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    # Maker: the limit price, no spread or impact; fee 10 · 99.50 · 0.0002 = 0.199.
    assert (fill.price, fill.fee) == (D("99.50"), D("0.199"))
    assert fill.filled_at == bar(2, open=1, high=1, low=1, close=1, volume=1).ts + HOUR


def test_resting_limit_the_bar_gaps_through_takes_at_the_open_not_at_its_limit(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock)
    broker.submit(order("l2", Side.BUY, "10", OrderType.LIMIT, limit="99.50"))
    broker.on_bar(bar(1, open=100, high=101, low=99.9, close=100, volume=1000))
    broker.on_bar(bar(2, open=98, high=99, low=97, close=98, volume=1000))
    (fill,) = broker.fills_since(None).fills
    # The bar never traded at 99.50: marketable at the open, it pays taker costs from
    # there, 98 · 1.003 = 98.294 → 98.30 (up); fee 10 · 98.30 · 0.0005 = 0.4915.
    assert (fill.price, fill.fee) == (D("98.30"), D("0.4915"))


def test_sell_limit_fills_when_the_high_reaches_it(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    broker.submit(order("l3", Side.SELL, "10", OrderType.LIMIT, limit="101.00"))
    broker.on_bar(bar(1, open=100, high=101.5, low=99, close=101, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert (fill.price, fill.fee) == (D("101.00"), D("0.202"))  # 10 · 101 · 0.0002


def test_marketable_limit_takes_at_the_open_and_never_pays_beyond_its_limit(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock)
    broker.submit(order("wide", Side.BUY, "10", OrderType.LIMIT, limit="100.50"))
    broker.submit(order("tight", Side.BUY, "10", OrderType.LIMIT, limit="100.20"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=100_000))
    fills = {f.client_order_id: f for f in broker.fills_since(None).fills}
    # The first: 10 of 100000 → impact 0.02·0.01·10⁴ = 2 bps; + 10 = 12 bps → 100.12.
    assert (fills["wide"].price, fills["wide"].fee) == (D("100.12"), D("0.5006"))
    # The second pays what its 10 add to the bar's 20 taken: 20 at 10 + 2·√2 bps less 10
    # at 12 bps, over 10 → 13.657 bps → 100.1366, a tick up against the buyer: 100.14,
    # inside the tight limit; a limit of 100.05 would cap it (next test).
    assert fills["tight"].price == D("100.14")


def test_marketable_limit_price_is_capped_at_the_limit(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    broker.submit(order("cap", Side.BUY, "10", OrderType.LIMIT, limit="100.05"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    # Modelled 100.30 (30 bps) but the limit is 100.05; taker fee 10 · 100.05 · 0.0005.
    assert (fill.price, fill.fee) == (D("100.05"), D("0.50025"))


def test_stops_trigger_on_the_range_and_pay_taker_costs_from_the_stop(
    clock: SimulatedClock,
) -> None:
    broker = make_broker(clock)
    broker.submit(order("bs", Side.BUY, "10", OrderType.STOP, stop="101.00"))
    broker.submit(order("ss", Side.SELL, "10", OrderType.STOP, stop="99.00"))
    broker.submit(order("far", Side.BUY, "10", OrderType.STOP, stop="110.00"))
    broker.on_bar(bar(1, open=100, high=101.5, low=98.5, close=100, volume=1000))
    fills = {f.client_order_id: f for f in broker.fills_since(None).fills}
    # Buy stop: 101 · 1.003 = 101.303 → 101.31 (up); fee 10 · 101.31 · 0.0005 = 0.50655.
    assert (fills["bs"].price, fills["bs"].fee) == (D("101.31"), D("0.50655"))
    # Sell stop: 99 · 0.997 = 98.703 → 98.70 (down); fee 10 · 98.70 · 0.0005 = 0.4935.
    assert (fills["ss"].price, fills["ss"].fee) == (D("98.70"), D("0.4935"))
    assert "far" not in fills


def test_a_stop_the_open_gapped_through_fills_from_the_open(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    broker.submit(order("gap", Side.BUY, "10", OrderType.STOP, stop="99.00"))
    broker.on_bar(bar(1, open=100, high=101, low=99.5, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert fill.price == D("100.30")  # from the open 100, not the better stop 99


def test_latency_moves_an_order_to_the_first_bar_it_was_live_in(clock: SimulatedClock) -> None:
    broker = make_broker(clock, latency_seconds=5400)  # live at 11:30:05
    broker.submit(order("slow", Side.BUY, "10"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))  # ends 11:00
    assert broker.fills_since(None).fills == ()
    broker.on_bar(bar(2, open=101, high=102, low=100, close=101, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert fill.price == D("101.31")  # 101 · 1.003 = 101.303, rounded up
    assert fill.filled_at == DECISION_TIME + timedelta(seconds=5400)


def test_an_order_live_only_when_the_bar_closes_waits_for_the_next(clock: SimulatedClock) -> None:
    broker = make_broker(clock, latency_seconds=3595)  # live at 11:00:00 exactly
    broker.submit(order("edge", Side.BUY, "10"))
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    assert broker.fills_since(None).fills == ()
    broker.on_bar(bar(2, open=101, high=102, low=100, close=101, volume=1000))
    assert len(broker.fills_since(None).fills) == 1


class FlatFee(CostModel):
    """1 bp fee, no spread and no impact: the broker must charge exactly what its model says."""

    def estimate(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> CostBreakdown:
        notional = quantity * price
        return CostBreakdown(notional, D(1), notional / 10_000, 0.0, 0.0)


def test_prices_and_fees_come_from_the_cost_model_it_is_given(clock: SimulatedClock) -> None:
    broker = SimulatedBroker(clock, FlatFee())
    broker.submit(order("f", Side.BUY, "10"))
    broker.on_bar(bar(1, open=100.07, high=101, low=99, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert (fill.price, fill.fee) == (D("100.07"), D("0.10007"))


def test_the_same_run_gives_the_same_fills_and_trade_ids() -> None:
    def run() -> tuple[Fill, ...]:
        broker = make_broker(SimulatedClock(DECISION_TIME), participation_cap=0.25)
        broker.submit(order("x", Side.BUY, "250"))
        broker.submit(order("y", Side.SELL, "5", OrderType.LIMIT, limit="101.00"))
        for index in (1, 2, 3):
            broker.on_bar(bar(index, open=100, high=101.5, low=99, close=100, volume=400))
        return broker.fills_since(None).fills

    assert run() == run()
    # The cap is shared by both sides: y only gets volume once x is done.
    assert [f.trade_id for f in run()] == ["sim-x-1", "sim-x-2", "sim-x-3", "sim-y-1"]


def test_venue_rules_cancel_query_and_the_fill_cursor(clock: SimulatedClock) -> None:
    broker = make_broker(clock)
    assert broker.submit(order("dup", Side.BUY, "1")).outcome is SubmitOutcome.ACCEPTED
    again = broker.submit(order("dup", Side.BUY, "1"))
    assert again.outcome is SubmitOutcome.REJECTED and again.reason is not None
    assert broker.submit(order("lot", Side.BUY, "0.0005")).outcome is SubmitOutcome.REJECTED
    assert broker.submit(order("zero", Side.BUY, "0")).outcome is SubmitOutcome.REJECTED
    assert broker.query("nope") is None and broker.cancel("nope") is None

    broker.submit(order("gone", Side.BUY, "1"))
    cancelled = broker.cancel("gone")
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED

    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    first = broker.fills_since(None)
    assert [f.client_order_id for f in first.fills] == ["dup"]
    assert broker.fills_since(first.cursor).fills == ()
    state = broker.cancel("dup")
    assert state is not None and state.status is OrderStatus.FILLED  # too late to cancel
