"""When a risk limit binds, which order gets the room depends on the symbol, never on the
run id (client order ids hash the run's scope)."""

from __future__ import annotations

from pathlib import Path

from engine_builders import bars, config, frame

from quantgate.engine.backtest import run_backtest
from quantgate.engine.feeds import FrameBarFeed

CLOSES = [100, 100, 100, 110, 111, 112]
GROSS_LIMIT = {
    "max_order_notional": "100000",
    "max_symbol_notional": "100000",
    "default_max_bucket_notional": "100000",
    "max_gross_notional": "4000",
    "max_daily_loss": "100000",
}


def test_a_binding_limit_denies_the_same_order_whatever_the_run_id(tmp_path: Path) -> None:
    bar_frame = frame(*(bars(symbol, CLOSES) for symbol in ("CCC", "AAA", "BBB")))
    backtest = config(["AAA", "BBB", "CCC"], risk=GROSS_LIMIT)
    runs = [
        run_backtest(backtest, tmp_path, feed=FrameBarFeed(bar_frame), run_id=run_id)
        for run_id in ("first", "second-with-another-hash")
    ]
    # Three signals at bar 3, a third of 5 000 each: two fit under the 4 000 gross limit.
    for result in runs:
        assert result.metrics["engine"]["denials"] == {"gross_exposure": 1}
        assert set(result.metrics["positions"]) == {"AAA", "BBB"}
    assert runs[0].metrics["final_equity"] == runs[1].metrics["final_equity"]
