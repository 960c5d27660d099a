"""A plan under way when a new decision arrives is re-aimed at the new target, with the
horizon it was made for: another symbol's signal must neither leave old slices trading
toward a replaced target nor turn a 1d exit into a 1h sweep."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine_builders import MOMENTUM_1D, bars, config, frame, run


def test_a_small_change_of_target_still_re_aims_the_running_plan(tmp_path: Path) -> None:
    a = [100.0] * 4 + [110.0] * 41  # AAA enters at bar 4: a 6-slice TWAP
    b = [100.0] * 6 + [110.0] * 39  # BBB enters 2 slices later: AAA's weight halves
    shared = {
        "params": MOMENTUM_1D,
        "long_horizon": {"style": "twap", "slices": 6},
    }
    # The halving of AAA's target is below this floor of a trade, measured from the
    # position the first slices built, so the decision alone would not trade AAA.
    floored = config(
        ["AAA", "BBB"], **shared, engine={"capital_fraction": 0.5, "min_trade_weight": 0.2}
    )
    unfloored = config(
        ["AAA", "BBB"], **shared, engine={"capital_fraction": 0.5, "min_trade_weight": 0.0}
    )
    prices = frame(bars("AAA", a), bars("BBB", b))

    with_floor = run(tmp_path / "floor", prices, floored).metrics["positions"]
    without = run(tmp_path / "none", prices, unfloored).metrics["positions"]

    # Before: AAA's old slices ran on to the replaced target, 45.454.
    assert with_floor == without == {"AAA": "22.725", "BBB": "22.725"}


def test_an_exit_plan_keeps_its_horizon_when_another_symbol_rebalances(tmp_path: Path) -> None:
    a = [100.0] * 4 + [110.0] * 14 + [108.0] * 30  # AAA enters, then exits at bar 18
    b = [100.0] * 20 + [110.0] * 28  # BBB enters two slices into AAA's exit
    backtest = config(
        ["AAA", "BBB"], params=MOMENTUM_1D, long_horizon={"style": "twap", "slices": 6}
    )

    result = run(tmp_path, frame(bars("AAA", a), bars("BBB", b)), backtest)

    with sqlite3.connect(result.path / "engine.db") as db:
        exits = db.execute(
            "select policy, json_extract(intent, '$.horizon') from orders "
            "where symbol = 'AAA' and side = 'sell'"
        ).fetchall()
    assert len(exits) > 6  # the exit was re-planned when BBB's signal came
    # Before: the rest of the exit went out as one 1h IOC on short_horizon_exec.
    assert set(exits) == {("long_horizon_exec", "1d")}
    assert set(result.metrics["by_horizon"]) == {"1d"}
    assert result.metrics["positions"].get("AAA", "0") in {"0", "0.000"}
