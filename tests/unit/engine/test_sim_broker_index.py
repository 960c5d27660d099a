"""FastSimulatedBroker is SimulatedBroker with an index: identical fills, states and costs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine_builders import sim_instrument

from quantgate.core import (
    Bar,
    Order,
    OrderType,
    Side,
    SimulatedClock,
)
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.execution import (
    SimBrokerConfig,
    SimulatedBroker,
    StandardCostModel,
    TimeInForce,
)

D = Decimal
HOUR = timedelta(hours=1)
START = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")


def random_order(rng: random.Random, index: int, at: datetime, prices: dict[str, float]) -> Order:
    symbol = rng.choice(SYMBOLS)
    side = rng.choice((Side.BUY, Side.SELL))
    kind = rng.choice((OrderType.MARKET, OrderType.LIMIT, OrderType.STOP))
    reference = D(repr(round(prices[symbol] * (1 + rng.uniform(-0.02, 0.02)), 2)))
    return Order(
        client_order_id=f"o{index}",
        strategy="s",
        instrument=sim_instrument(symbol),
        side=side,
        order_type=kind,
        quantity=D(rng.randint(1, 5000)) / 1000,
        created_at=at,
        limit_price=reference if kind is OrderType.LIMIT else None,
        stop_price=reference if kind is OrderType.STOP else None,
    )


def test_identical_to_the_plain_simulated_broker() -> None:
    rng = random.Random(11)
    clock = SimulatedClock(START)
    config = SimBrokerConfig(participation_cap=0.2, volatility_min_bars=5)
    plain = SimulatedBroker(clock, StandardCostModel(), config)
    fast = FastSimulatedBroker(clock, StandardCostModel(), config)
    prices = dict.fromkeys(SYMBOLS, 100.0)
    submitted: list[str] = []
    for hour in range(300):
        ts = START + hour * HOUR
        clock.advance_to(ts + HOUR + timedelta(seconds=5))
        for symbol in SYMBOLS:
            if rng.random() < 0.05:
                continue  # a missing bar
            open_ = prices[symbol]
            close = round(open_ * (1 + rng.gauss(0, 0.01)), 2)
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.003)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.003)))
            bar = Bar(symbol, ts, clock.now(), open_, high, low, close, rng.uniform(1, 20))
            prices[symbol] = close
            plain.on_bar(bar)
            fast.on_bar(bar)
        for _ in range(rng.choice((0, 0, 1, 2))):
            order = random_order(rng, len(submitted), clock.now(), prices)
            tif = rng.choice((TimeInForce.GTC, TimeInForce.IOC))
            assert plain.submit(order, time_in_force=tif) == fast.submit(order, time_in_force=tif)
            submitted.append(order.client_order_id)
        if submitted and rng.random() < 0.1:
            cid = rng.choice(submitted)
            assert plain.cancel(cid) == fast.cancel(cid)
        assert plain.fills_since(None) == fast.fills_since(None)
        for symbol in SYMBOLS:
            assert plain._volatility.sigma(symbol) == fast.volatility(symbol)
    assert [plain.query(c) for c in submitted] == [fast.query(c) for c in submitted]
    assert len(plain.fills_since(None).fills) > 50
    assert fast.has_working_orders() == bool(plain.open_orders())
    assert {s.client_order_id for s in plain.open_orders()} == {
        s.client_order_id for s in fast.open_orders()
    }
