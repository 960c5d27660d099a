"""The loop hands the broker the bars of one event together (`on_bars`) and marks the
book once per event: both must be exactly what the bar-by-bar, sum-by-sum code gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine_builders import sim_instrument

from quantgate.core import (
    Bar,
    Fill,
    Order,
    OrderType,
    Side,
    SimulatedClock,
)
from quantgate.engine.portfolio_state import PortfolioState
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.execution import SimBrokerConfig, SimulatedBroker, StandardCostModel, TimeInForce

D = Decimal
HOUR = timedelta(hours=1)
START = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


def test_on_bars_of_an_event_is_on_bar_bar_by_bar() -> None:
    rng = random.Random(17)
    clock = SimulatedClock(START)
    config = SimBrokerConfig(participation_cap=0.3, volatility_min_bars=5)
    costs = StandardCostModel()
    plain = SimulatedBroker(clock, costs, config)
    fast = FastSimulatedBroker(clock, costs, config)
    prices = dict.fromkeys(SYMBOLS, 100.0)
    submitted: list[str] = []
    for hour in range(400):
        ts = START + hour * HOUR
        clock.advance_to(ts + HOUR + timedelta(seconds=5))
        event: list[Bar] = []
        for symbol in SYMBOLS:
            if rng.random() < 0.05:
                continue  # a missing bar
            open_ = prices[symbol]
            close = round(open_ * (1 + rng.gauss(0, 0.01)), 2)
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.003)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.003)))
            event.append(Bar(symbol, ts, clock.now(), open_, high, low, close, rng.uniform(1, 20)))
            prices[symbol] = close
            if rng.random() < 0.05:
                # A second bar of the symbol published at the same time (after a gap).
                late_close = round(close * (1 + rng.gauss(0, 0.01)), 2)
                event.append(
                    Bar(
                        symbol,
                        ts - HOUR / 2,
                        clock.now(),
                        close,
                        max(close, late_close),
                        min(close, late_close),
                        late_close,
                        rng.uniform(1, 20),
                    )
                )
                prices[symbol] = late_close
        for bar in event:
            plain.on_bar(bar)
        fast.on_bars(event)
        for _ in range(rng.choice((0, 1, 2, 3))):
            symbol = rng.choice(SYMBOLS)
            kind = rng.choice((OrderType.MARKET, OrderType.LIMIT, OrderType.STOP))
            reference = D(repr(round(prices[symbol] * (1 + rng.uniform(-0.02, 0.02)), 2)))
            order = Order(
                client_order_id=f"o{len(submitted)}",
                strategy="s",
                instrument=sim_instrument(symbol),
                side=rng.choice((Side.BUY, Side.SELL)),
                order_type=kind,
                quantity=D(rng.randint(1, 5000)) / 1000,
                created_at=clock.now(),
                limit_price=reference if kind is OrderType.LIMIT else None,
                stop_price=reference if kind is OrderType.STOP else None,
            )
            tif = rng.choice((TimeInForce.GTC, TimeInForce.IOC))
            assert plain.submit(order, time_in_force=tif) == fast.submit(order, time_in_force=tif)
            submitted.append(order.client_order_id)
        assert plain.fills_since(None) == fast.fills_since(None)
        for symbol in SYMBOLS:
            assert plain._volatility.sigma(symbol) == fast.volatility(symbol)
    assert [plain.query(c) for c in submitted] == [fast.query(c) for c in submitted]
    assert len(plain.fills_since(None).fills) > 50


def test_marks_float_is_equity_float_and_gross_float() -> None:
    rng = random.Random(3)
    book = PortfolioState(D(100_000))
    closes = {symbol: 100.0 for symbol in SYMBOLS}
    assert book.marks_float(closes) == (book.equity_float(closes), book.gross_float(closes))
    for index in range(300):
        symbol = rng.choice(SYMBOLS)
        book.apply(
            Fill(
                trade_id=f"t{index}",
                client_order_id=f"o{index}",
                symbol=symbol,
                side=rng.choice((Side.BUY, Side.SELL)),
                quantity=D(rng.randint(1, 3000)) / 1000,
                price=D(repr(round(rng.uniform(50, 150), 2))),
                fee=D("0.01"),
                filled_at=START + index * HOUR,
            )
        )
        closes = {s: rng.uniform(50, 150) for s in SYMBOLS}
        equity, gross = book.marks_float(closes)
        assert (equity, gross) == (book.equity_float(closes), book.gross_float(closes))
        assert type(gross) is type(book.gross_float(closes))
        assert list(book.held()) == sorted(book.held())
        restored = PortfolioState.restore(book.checkpoint())
        assert restored.held() == book.held()
        assert restored.marks_float(closes) == (equity, gross)
