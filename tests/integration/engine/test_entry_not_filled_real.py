"""A bracket whose entry never filled withdraws it, in the engine on real Binance DOGEUSDT
hours (read from ../shared/data, skipped when absent). Before the engine told strategies
of orders that ended short, a bracket whose entry the risk gate denied managed the levels
of a position it never held: on the second half of 2019 with every entry denied, 3,031
bar-hours of phantom brackets and 85 stop and target "exits" of nothing."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from binance_hours import real_bars

from quantgate.core import Bar, Signal
from quantgate.engine.backtest import BacktestConfig, run_backtest
from quantgate.engine.feeds import FrameBarFeed
from quantgate.strategy.bracket import Bracket, BracketMomentumStrategy

SYMBOL = "DOGEUSDT"
PARAMS = {
    "lookback": 24,
    "entry_threshold": 0.03,
    "stop_loss_pct": 0.03,
    "take_profit_pct": 0.06,
    "cooldown_bars": 3,
}


def run(shared_data: Path, tmp_path: Path, end: datetime, **extra: Any) -> Counter[str]:
    """Runs the bracket; counts its entries, its exits by kind, and the bar-hours it
    managed a bracket with nothing filled."""
    start = datetime(2019, 7, 1, tzinfo=UTC)
    seen: Counter[str] = Counter()
    manage, enter = BracketMomentumStrategy._manage, BracketMomentumStrategy._maybe_enter

    def watch_manage(self: Any, state: Any, bracket: Bracket, bar: Bar) -> list[Signal]:
        unfilled = bracket.filled_quantity == 0.0
        seen["unfilled_bar_hours"] += unfilled
        signals = manage(self, state, bracket, bar)
        for signal in signals:
            # Keyed by the reason without its levels: "stop_loss 0.0021 hit (low …)".
            seen[signal.reason.split(" ")[0] if unfilled else "exit of a position"] += 1
            if signal.reason.startswith("entry not filled"):
                seen[signal.reason] += 1
        return signals

    def watch_enter(self: Any, state: Any, bar: Bar) -> list[Signal]:
        signals = enter(self, state, bar)
        seen["entries"] += len(signals)
        return signals

    config = BacktestConfig.parse(
        {
            "strategy": "bracket_momentum",
            "params": PARAMS,
            "symbols": [SYMBOL],
            "start": start.isoformat(),
            "end": end.isoformat(),
            **extra,
        }
    )
    assert isinstance(config, BacktestConfig)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BracketMomentumStrategy, "_manage", watch_manage)
        patch.setattr(BracketMomentumStrategy, "_maybe_enter", watch_enter)
        result = run_backtest(
            config,
            tmp_path,
            feed=FrameBarFeed(real_bars(shared_data, SYMBOL, start, end, timedelta(days=3))),
        )
    assert result.completed
    return seen


@pytest.mark.realdata
def test_every_denied_entry_is_withdrawn_at_the_next_bar(shared_data: Path, tmp_path: Path) -> None:
    seen = run(
        shared_data, tmp_path, datetime(2020, 1, 1, tzinfo=UTC), risk={"max_order_notional": "10"}
    )
    withdrawn = seen["entry not filled (denied: max_order_notional)"]
    assert seen["entries"] >= 100
    assert withdrawn == seen["entries"]
    # One bar-hour each (the bar that withdraws it), and no stop or target on nothing.
    assert seen["unfilled_bar_hours"] == withdrawn
    assert not any(re.match(r"(stop_loss|take_profit|trailing_stop)", key) for key in seen)


@pytest.mark.realdata
def test_an_ioc_entry_that_met_no_volume_is_withdrawn(shared_data: Path, tmp_path: Path) -> None:
    # The default 10 % participation cap: on 2020-03-31 a DOGE entry met bars that traded
    # nothing it could take, through its follow-ups.
    seen = run(shared_data, tmp_path, datetime(2020, 7, 1, tzinfo=UTC))
    assert seen["entry not filled (cancelled)"] >= 1
    assert seen["exit of a position"] >= 50
    # Bar-hours before an entry's first fill: its IOC and follow-ups still working.
    assert seen["unfilled_bar_hours"] <= 20
