"""A strategy hears of the fills of the orders it caused, and of no others.

The book (cash, positions) takes every fill; `on_fill` goes only to the strategies whose
signals for the symbol made the decision that planned the order. A bracket re-anchors its
entry, stop and target on the fills it is told of, so a re-sizing it did not ask for (a
signal for another symbol moved the weights) must not move them — and a restarted run
must credit the same fills as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.core import Bar, Fill, Signal
from quantgate.engine.backtest import (
    TRADES_FILE,
    Backtest,
    BacktestConfig,
    read_json,
    resume_backtest,
    run_backtest,
    runs_root,
)
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.loop import TradingLoop
from quantgate.execution.config import LongHorizonConfig
from quantgate.strategy.bracket import BracketMomentumStrategy

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC)
# The crash: after 18 events, the last with no order open (so a checkpoint), when two TWAP
# slices of a bracket's entry still wait in the schedule (and fill after the restart).
STOP_AFTER = 18
BRACKET = {
    "lookback": 6,
    "entry_threshold": 0.01,
    "trailing_stop_pct": 0.01,
    "max_holding_bars": 12,
    "cooldown_bars": 0,
}


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    source = SyntheticMarketSource(
        SyntheticMarketConfig(seed=21, symbols=SYMBOLS, start=START - timedelta(days=10), end=END)
    )
    return pl.concat([source.fetch_bars(symbol, START, END) for symbol in SYMBOLS])


def bracket_config(**params: Any) -> BacktestConfig:
    config = BacktestConfig.parse(
        {
            "strategy": "bracket_momentum",
            "params": {**BRACKET, **params},
            "symbols": list(SYMBOLS),
            "start": START.isoformat(),
            "end": END.isoformat(),
        }
    )
    assert isinstance(config, BacktestConfig)
    return config


def what(fill: Fill) -> tuple[Any, ...]:
    """A fill as two runs can compare it (ids hash the run's scope, so they differ)."""
    return (fill.symbol, fill.filled_at, fill.side, fill.quantity, fill.price)


@dataclass
class Witness:
    """What the bracket was told (fills) and what it said (signal times per symbol)."""

    fills: list[Fill] = field(default_factory=list)
    signalled: set[tuple[str, datetime]] = field(default_factory=set)
    booked: set[tuple[Any, ...]] = field(default_factory=set)  # what the book took


@pytest.fixture
def witness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Witness]:
    seen = Witness()
    on_fill, on_bars = BracketMomentumStrategy.on_fill, BracketMomentumStrategy.on_bars
    book_fill = TradingLoop._book_fill

    def record_fill(self: BracketMomentumStrategy, fill: Fill) -> None:
        seen.fills.append(fill)
        on_fill(self, fill)

    def record_signals(self: BracketMomentumStrategy, batch: Sequence[Bar]) -> list[Signal]:
        signals = on_bars(self, batch)
        seen.signalled.update((s.symbol, s.asof) for s in signals)
        return signals

    def record_booking(self: TradingLoop, fill: Fill) -> None:
        seen.booked.add(what(fill))
        book_fill(self, fill)

    monkeypatch.setattr(BracketMomentumStrategy, "on_fill", record_fill)
    monkeypatch.setattr(TradingLoop, "_book_fill", record_booking)
    monkeypatch.setattr(BracketMomentumStrategy, "on_bars", record_signals)
    yield seen


def test_a_bracket_hears_only_of_its_own_orders_fills(
    bars: pl.DataFrame, witness: Witness, tmp_path: Path
) -> None:
    result = run_backtest(bracket_config(), tmp_path, feed=FrameBarFeed(bars))
    assert result.completed
    trades = pl.read_parquet(result.run_dir / TRADES_FILE)
    decided = dict(zip(trades["trade_id"], trades["decision_time"], strict=True))
    told = {fill.trade_id for fill in witness.fills}
    # Entries were told (their real price re-anchors the bracket)...
    assert len(told) >= 20
    # ...each one an order decided when the bracket signalled that symbol...
    assert all((fill.symbol, decided[fill.trade_id]) in witness.signalled for fill in witness.fills)
    # ...while the re-sizings (decided when only other symbols signalled) were booked, not told.
    resizings = [
        trade_id
        for trade_id, symbol, at in trades.select("trade_id", "symbol", "decision_time").rows()
        if (symbol, at) not in witness.signalled
    ]
    assert len(resizings) >= 20
    assert told.isdisjoint(resizings)
    assert len(told) + len(resizings) == trades.height


def test_a_restart_credits_the_same_fills_as_an_uninterrupted_run(
    bars: pl.DataFrame, witness: Witness, tmp_path: Path
) -> None:
    # A daily horizon trades in TWAP slices: a decision whose slices still wait in the
    # schedule at the checkpoint is re-planned on restore, and keeps its causes.
    config = bracket_config(horizon="1d", entry_threshold=0.03)
    config = config.model_copy(update={"long_horizon": LongHorizonConfig(slices=3)})
    whole = run_backtest(config, tmp_path / "a", feed=FrameBarFeed(bars))
    assert whole.completed
    told_whole = [what(fill) for fill in witness.fills]
    assert len(told_whole) >= 20

    backtest = Backtest.create(config, runs_root(tmp_path / "b"), feed=FrameBarFeed(bars))
    assert not backtest.run(checkpoint_every=1, stop_after_events=STOP_AFTER).completed
    checkpoint = read_json(backtest.run_dir / "checkpoint" / "state.json")
    causes = [entry["causes"] for entry in checkpoint["pending"]]
    assert causes and all(cause == ["bracket_momentum"] for cause in causes)
    waiting = set(checkpoint["order_causes"])

    witness.fills.clear()
    witness.booked.clear()
    resumed = resume_backtest(backtest.run_dir, feed=FrameBarFeed(bars))
    assert resumed.completed
    told_resumed = [what(fill) for fill in witness.fills]
    # The resumed process books the fills after the checkpoint and tells the bracket of
    # exactly those the uninterrupted run told it of, the re-planned slices' among them.
    assert told_resumed == [fill for fill in told_whole if fill in witness.booked]
    assert len(told_resumed) >= 10
    assert any(fill.client_order_id in waiting for fill in witness.fills)
    trades_whole = pl.read_parquet(whole.run_dir / TRADES_FILE)
    trades_resumed = pl.read_parquet(backtest.run_dir / TRADES_FILE)
    compared = ["filled_at", "symbol", "side", "quantity", "price", "decision_time"]
    assert trades_whole.select(compared).equals(trades_resumed.select(compared))
