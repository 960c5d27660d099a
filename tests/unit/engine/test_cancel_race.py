"""A fill that races a cancel (a live venue traded the order a moment before the cancel
arrived, and says so in its answer) is booked before anything more is decided, whether
the cancel came from an expiry or from a new plan replacing the order: the plan moves
from the position actually held, and the fill is booked exactly once.

The simulated venue cannot race itself, so its cancel is wrapped to trade the order at
its limit first, as a live venue may: the stand-in is for the exchange, nothing else.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.core import Bar, OrderStatus
from quantgate.engine.backtest import Backtest, BacktestConfig, runs_root
from quantgate.engine.feeds import FrameBarFeed
from quantgate.execution.brokers.sim import TERMINAL_STATUSES
from quantgate.storage.models import FillRow

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 21, tzinfo=UTC)


# Daily signals are worked with resting passive slices. Short ones expire (the engine's
# reconcile cancels them); slices resting for two days are cancelled by the next plan.
EXPIRING = {"style": "passive"}
REPLACED = {"style": "passive", "slices": 2, "window_seconds": {"1d": 172800}}


def passive_momentum(long_horizon: dict[str, Any]) -> BacktestConfig:
    config = BacktestConfig.parse(
        {
            "strategy": "momentum",
            "params": {
                "lookback": 6,
                "entry_threshold": 0.005,
                "exit_threshold": 0.001,
                "horizon": "1d",
            },
            "symbols": list(SYMBOLS),
            "start": START.isoformat(),
            "end": END.isoformat(),
            "long_horizon": long_horizon,
        }
    )
    assert isinstance(config, BacktestConfig)
    return config


@pytest.mark.parametrize("long_horizon", [EXPIRING, REPLACED], ids=["expired", "replaced"])
def test_a_fill_in_a_cancels_answer_is_held_before_the_next_plan(
    long_horizon: dict[str, Any],
) -> None:
    source = SyntheticMarketSource(
        SyntheticMarketConfig(seed=3, symbols=SYMBOLS, start=START - timedelta(days=10), end=END)
    )
    bars = pl.concat([source.fetch_bars(symbol, START, END) for symbol in SYMBOLS])
    backtest = Backtest.create(
        passive_momentum(long_horizon), runs_root(Path(tempfile.mkdtemp())), feed=FrameBarFeed(bars)
    )
    loop = backtest.build(resume=False)
    broker, state = loop.broker, loop.state
    real_cancel = broker.cancel
    raced: list[str] = []

    def racing_cancel(client_order_id: str) -> Any:
        working = broker._orders.get(client_order_id)  # type: ignore[attr-defined]
        if working is not None and working.status not in TERMINAL_STATUSES:
            order = working.order
            price = float(order.limit_price)
            now = broker.clock.now()
            # A print at the order's own limit, large enough to fill it whole.
            trade = Bar(order.instrument.symbol, now, now, price, price, price, price, 1e9)
            with broker._lock:  # type: ignore[attr-defined]
                broker._match_bar(trade)  # type: ignore[attr-defined]
            if working.status is OrderStatus.FILLED or working.filled_quantity > 0:
                raced.append(client_order_id)
        return real_cancel(client_order_id)

    planned: list[tuple[Decimal, Decimal]] = []
    real_plan = loop.policies.plan

    def witnessed_plan(intent: Any, market: Any) -> Any:
        symbol = intent.instrument.symbol
        traded = broker._fills  # type: ignore[attr-defined]  # what the venue executed
        held = sum((f.side.sign * f.quantity for f in traded if f.symbol == symbol), Decimal(0))
        planned.append((intent.current_quantity, held))
        return real_plan(intent, market)

    broker.cancel = racing_cancel  # type: ignore[method-assign]
    loop.policies.plan = witnessed_plan  # type: ignore[method-assign]
    loop.run()

    assert len(raced) >= 5
    # Every plan starts from the position the venue holds, raced fills included.
    assert all(current == held for current, held in planned)
    assert backtest.database is not None
    with Session(backtest.database) as session:
        stored = session.scalar(select(func.count()).select_from(FillRow))
    assert stored == state.fill_count
