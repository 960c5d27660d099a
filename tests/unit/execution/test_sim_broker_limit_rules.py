"""Limit orders in the simulated brokers: where in a bar they trade, and as what.

- marketable at the open (on any bar) → taker at the open, capped at the limit;
- not marketable at the open but reached in the bar → maker at the limit, GTC only;
- an IOC order not marketable at the open of its first bar → cancelled, no fill;
- never at a base price the bar did not trade at.

Both brokers run every case: the indexed one must match the plain one. Costs as in
test_sim_broker.py: σ = 2 % per bar, half-spread 10 bps, impact 0.02 · sqrt(q / V) · 10⁴
bps, taker fee 5 bps, maker fee 2 bps, tick 0.01, modelled prices round against us.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from exec_builders import DECISION_TIME, HOUR, INSTRUMENT, bar, cost_model

from quantgate.core import Bar, Order, OrderStatus, OrderType, Side, SimulatedClock
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.execution import Liquidity, SimBrokerConfig, SimulatedBroker, TimeInForce
from quantgate.execution.brokers.matching import BarPrices, touch

D = Decimal
TAKER_FEE = D("0.0005")
MAKER_FEE = D("0.0002")


@pytest.fixture(params=[SimulatedBroker, FastSimulatedBroker])
def broker(request: pytest.FixtureRequest) -> SimulatedBroker:
    clock = SimulatedClock(DECISION_TIME)
    config = SimBrokerConfig(volatility_min_bars=10_000, participation_cap=0.25)
    kind: type[SimulatedBroker] = request.param
    return kind(clock, cost_model(), config)


def limit(cid: str, side: Side, quantity: str, price: str) -> Order:
    return Order(
        client_order_id=cid,
        strategy="test",
        instrument=INSTRUMENT,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=D(quantity),
        created_at=DECISION_TIME,
        limit_price=D(price),
    )


def open_of(index: int) -> datetime:
    return bar(index, open=1, high=1, low=1, close=1, volume=1).ts


def close_of(index: int) -> datetime:
    return open_of(index) + HOUR


def test_an_ioc_buy_the_open_gapped_past_is_cancelled_without_a_fill(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("ioc", Side.BUY, "10", "100.50"), time_in_force=TimeInForce.IOC)
    # Opens above the limit; the range comes back through it later in the bar.
    broker.on_bar(bar(1, open=101, high=101.5, low=100, close=100.2, volume=1000))
    # A later bar that opens below the limit must not revive it either.
    broker.on_bar(bar(2, open=100, high=100.2, low=99, close=100, volume=1000))
    assert broker.fills_since(None).fills == ()
    state = broker.query("ioc")
    assert state is not None
    assert state.status is OrderStatus.CANCELLED and state.filled_quantity == 0
    assert state.reason == "ioc remainder cancelled"
    assert broker.open_orders() == []


def test_an_ioc_sell_the_open_gapped_past_is_cancelled_without_a_fill(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("ioc", Side.SELL, "10", "99.50"), time_in_force=TimeInForce.IOC)
    broker.on_bar(bar(1, open=99, high=100, low=98.5, close=99.8, volume=1000))
    assert broker.fills_since(None).fills == ()
    state = broker.query("ioc")
    assert state is not None and state.status is OrderStatus.CANCELLED


def test_an_ioc_marketable_at_the_open_still_takes_there(broker: SimulatedBroker) -> None:
    broker.submit(limit("ioc", Side.BUY, "10", "100.50"), time_in_force=TimeInForce.IOC)
    broker.on_bar(bar(1, open=100, high=101, low=99, close=100, volume=1000))
    (fill,) = broker.fills_since(None).fills
    # 10 of 1000 under a 25 % cap: impact 0.02 · 0.1 · 10⁴ = 20 bps, + 10 = 30 bps.
    assert (fill.price, fill.fee) == (D("100.30"), D("100.30") * 10 * TAKER_FEE)
    assert fill.filled_at == DECISION_TIME  # at the open, once live (10:00:05)


def test_a_gtc_in_the_same_bar_rests_and_is_hit_at_its_limit_as_maker(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("gtc", Side.BUY, "10", "100.50"), time_in_force=TimeInForce.GTC)
    broker.on_bar(bar(1, open=101, high=101.5, low=100, close=100.2, volume=1000))
    (fill,) = broker.fills_since(None).fills
    assert (fill.price, fill.fee) == (D("100.50"), D("100.50") * 10 * MAKER_FEE)
    assert fill.filled_at == close_of(1)


def test_the_remainder_of_a_marketable_order_takes_at_the_next_open_not_its_limit(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("part", Side.BUY, "150", "102.00"))
    # 25 % of 400 = 100 per bar: 100 now, 50 carried over.
    broker.on_bar(bar(1, open=100, high=100.5, low=99.5, close=100, volume=400))
    # The next bar trades at 100 only: the old rule filled the rest at 102 as a maker.
    broker.on_bar(bar(2, open=100, high=100, low=100, close=100, volume=400))
    first, second = broker.fills_since(None).fills
    # Both take at the open 100: 100 of 400 → impact 0.02 · 0.5 · 10⁴ = 100 bps, + 10.
    assert (first.quantity, first.price) == (D(100), D("101.10"))
    # 50 of 400 → 0.02 · sqrt(0.125) · 10⁴ = 70.71 bps, + 10 → 100.8071 → 100.81 (up).
    assert (second.quantity, second.price) == (D(50), D("100.81"))
    assert second.fee == D(50) * D("100.81") * TAKER_FEE
    assert second.filled_at == open_of(2)
    state = broker.query("part")
    assert state is not None and state.status is OrderStatus.FILLED


def test_the_remainder_of_a_marketable_order_is_still_capped_at_its_limit(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("part", Side.SELL, "150", "99.20"))
    broker.on_bar(bar(1, open=100, high=100.5, low=99.5, close=100, volume=400))
    broker.on_bar(bar(2, open=99.5, high=99.5, low=99.5, close=99.5, volume=400))
    first, second = broker.fills_since(None).fills
    # Bar 1: 100 · (1 - 0.011) = 98.90, below the limit → 99.20.
    # Bar 2: 99.5 · (1 - 0.010071) = 98.498 → capped at 99.20 again, taker fee.
    assert [f.price for f in (first, second)] == [D("99.20"), D("99.20")]
    assert second.fee == D(50) * D("99.20") * TAKER_FEE


def test_a_remainder_the_next_open_is_past_rests_and_is_hit_as_maker(
    broker: SimulatedBroker,
) -> None:
    broker.submit(limit("part", Side.BUY, "150", "101.00"))
    broker.on_bar(bar(1, open=100, high=100.5, low=99.5, close=100, volume=400))
    broker.on_bar(bar(2, open=101.5, high=102, low=100.5, close=101, volume=400))
    _, second = broker.fills_since(None).fills
    assert (second.price, second.fee) == (D("101.00"), D(50) * D("101.00") * MAKER_FEE)
    assert second.filled_at == close_of(2)


def test_a_resting_sell_the_bar_gaps_through_takes_at_the_open(broker: SimulatedBroker) -> None:
    broker.submit(limit("rest", Side.SELL, "10", "100.50"))
    broker.on_bar(bar(1, open=100, high=100.4, low=99.5, close=100, volume=1000))
    broker.on_bar(bar(2, open=102, high=103, low=101.5, close=102, volume=1000))
    (fill,) = broker.fills_since(None).fills
    # Not at 100.50, which bar 2 never traded at: 102 · (1 - 0.003) = 101.694 → 101.69.
    assert (fill.price, fill.fee) == (D("101.69"), D("101.69") * 10 * TAKER_FEE)


BARS = [
    Bar("TEST", DECISION_TIME, DECISION_TIME + HOUR, o, h, lo, o, 1000.0)
    for o, h, lo in [
        (100.0, 101.0, 99.0),
        (98.0, 99.0, 97.0),
        (102.0, 103.0, 101.5),
        (100.0, 100.0, 100.0),
        (99.6, 100.6, 99.4),
    ]
]
LIMITS = ["97.50", "99.00", "99.50", "100.00", "100.50", "101.00", "102.50"]


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.IOC])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_no_base_price_outside_the_bar_and_makers_only_when_resting(
    side: Side, tif: TimeInForce
) -> None:
    for candle in BARS:
        prices = BarPrices.of(candle)
        for price in LIMITS:
            order = limit("x", side, "1", price)
            where = touch(order, prices, may_rest=tif is TimeInForce.GTC, triggered=False)
            if where is None:
                continue
            assert prices.low <= where.price <= prices.high
            if where.liquidity is Liquidity.TAKER:
                assert where.at_open and where.price == prices.open
            else:
                assert tif is TimeInForce.GTC and where.price == D(price)
                assert not where.at_open
