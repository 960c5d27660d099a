"""The bracket in the engine on real Binance BTCUSDT hours (read from ../shared/data, skipped
when absent): entries traded as passive daily slices do not always fill in the bar after
the signal, and a bracket's stop must still start on the losing side of what it paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from binance_hours import real_bars

from quantgate.core import Fill
from quantgate.engine.backtest import BacktestConfig, run_backtest
from quantgate.engine.feeds import FrameBarFeed
from quantgate.strategy.bracket import BracketMomentumStrategy

SYMBOL = "BTCUSDT"
START, END = datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 6, 1, tzinfo=UTC)


@pytest.mark.realdata
def test_a_late_first_fill_starts_the_stop_below_the_entry(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_fills: list[tuple[datetime, int, int, float, float]] = []
    on_fill = BracketMomentumStrategy.on_fill

    def watch(self: BracketMomentumStrategy, fill: Fill) -> None:
        bracket = self.open_bracket(fill.symbol)
        first = bracket is not None and bracket.filled_quantity == 0.0
        bars_before = 0 if bracket is None else bracket.bars_held
        on_fill(self, fill)
        if first and bracket is not None and fill.side.sign == bracket.direction:
            first_fills.append(
                (
                    fill.filled_at,
                    bracket.direction,
                    bars_before,
                    bracket.entry_price,
                    bracket.stop,
                )
            )

    monkeypatch.setattr(BracketMomentumStrategy, "on_fill", watch)
    config = BacktestConfig.parse(
        {
            "strategy": "bracket_momentum",
            "params": {
                "lookback": 24,
                "entry_threshold": 0.03,
                "stop_loss_pct": 0.03,
                "take_profit_pct": 0.06,
                "trailing_stop_pct": 0.01,
                "cooldown_bars": 3,
                "horizon": "1d",
            },
            "symbols": [SYMBOL],
            "start": START.isoformat(),
            "end": END.isoformat(),
            "long_horizon": {"style": "passive", "slices": 3},
        }
    )
    assert isinstance(config, BacktestConfig)
    result = run_backtest(
        config,
        tmp_path,
        feed=FrameBarFeed(real_bars(shared_data, SYMBOL, START, END, timedelta(days=3))),
    )
    assert result.completed
    late = [entry for entry in first_fills if entry[2] >= 1]
    # Some entries did fill only after a bar or more (the case under test)...
    assert len(first_fills) >= 100 and len(late) >= 3
    # ...and no bracket starts with its stop at or through its own entry price (a stop
    # trailed behind a high or low seen before the position existed).
    wrong = [
        entry
        for entry in first_fills
        if (entry[4] >= entry[3] if entry[1] == 1 else entry[4] <= entry[3])
    ]
    assert wrong == []
