"""A short-horizon order the venue filled only in part is followed up: at the next event
the plan sends what is still to trade toward the same target (the same ids, the same
price bound, the same decision price in the trace), up to `follow_ups` times, unless a
later decision replaced the plan. Before, the gap waited for the strategy's next signal:
on real hours under the 10 % participation cap, positions sat off target for days.

Momentum (lookback 2) on hourly bars of volume 200 under a 10 % participation cap: at
most 20 units trade a bar. AAA enters at bar 4's close (110) for 45.454."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from engine_builders import bars, config, frame, run

from quantgate.engine.backtest import (
    METRICS_FILE,
    TRADES_FILE,
    Backtest,
    read_json,
    resume_backtest,
    runs_root,
)
from quantgate.engine.feeds import FrameBarFeed
from quantgate.execution.policies import SHORT_HORIZON_EXEC

D = Decimal
ENTRY = [100.0] * 4 + [110.0] * 12
TARGET = D("45.454")
CAPPED = {"participation_cap": 0.1}


def _frame(closes: list[float]) -> pl.DataFrame:
    return frame(bars("AAA", closes, volume=200.0))


def _backtest(**short: Any) -> Any:
    return config(["AAA"], broker=CAPPED, short_horizon={"order_type": "market", **short})


def _orders(path: Path) -> list[tuple[str, str, D, D, str]]:
    """(client order id, side, quantity, filled, policy) of AAA's orders, in order."""
    with sqlite3.connect(path / "engine.db") as db:
        rows = db.execute(
            "select client_order_id, side, quantity, filled_quantity, policy from orders"
            " where symbol = 'AAA' order by created_at, client_order_id"
        ).fetchall()
    return [(cid, side, D(str(q)), D(str(f)), policy) for cid, side, q, f, policy in rows]


def _position(metrics: dict[str, Any]) -> D:
    return D(metrics["positions"].get("AAA", "0"))


def test_a_capped_entry_is_followed_up_to_its_target(tmp_path: Path) -> None:
    result = run(tmp_path, _frame(ENTRY), _backtest())
    orders = _orders(result.path)
    assert [(side, q, f) for _, side, q, f, _ in orders] == [
        ("buy", TARGET, D(20)),
        ("buy", D("25.454"), D(20)),
        ("buy", D("5.454"), D("5.454")),
    ]
    # Slices 0, 1, 2 of one plan: one intent part, the short-horizon policy.
    assert len({cid[:-3] for cid, *_ in orders}) == 1
    assert [cid[-3:] for cid, *_ in orders] == ["000", "001", "002"]
    assert {policy for *_, policy in orders} == {SHORT_HORIZON_EXEC}
    assert _position(result.metrics) == TARGET
    assert result.metrics["engine"]["follow_ups"] == 2
    # The trace measures every fill from the plan's decision (bar 4's close, 110).
    assert set(result.trades["decision_price"].to_list()) == {D(110)}


@pytest.mark.parametrize(("follow_ups", "held"), [(0, D(20)), (1, D(40))])
def test_follow_ups_stop_at_the_configured_count(
    tmp_path: Path, follow_ups: int, held: Decimal
) -> None:
    result = run(tmp_path, _frame(ENTRY), _backtest(follow_ups=follow_ups))
    assert _position(result.metrics) == held
    assert result.metrics["engine"]["follow_ups"] == follow_ups


def test_a_later_decision_replaces_the_follow_up(tmp_path: Path) -> None:
    # Bar 5 closes at 99 (-10 % over two bars): the exit, decided in the same event that
    # reports the entry's first 20. The target is 0 now: no follow-up, the 20 are sold.
    closes = [100.0] * 4 + [110.0, 99.0] + [99.0] * 8
    result = run(tmp_path, _frame(closes), _backtest())
    assert [(side, f) for _, side, _, f, _ in _orders(result.path)] == [
        ("buy", D(20)),
        ("sell", D(20)),
    ]
    assert result.metrics["engine"]["follow_ups"] == 0
    assert _position(result.metrics) == 0


@pytest.mark.parametrize(("stop_after", "checkpoint_at"), [(6, "04:00:05"), (8, "08:00:05")])
def test_a_restart_around_follow_ups_ends_as_the_uninterrupted_run(
    tmp_path: Path, stop_after: int, checkpoint_at: str
) -> None:
    # A checkpoint is taken only with no order open, and each follow-up goes out in the
    # event that reports the one before it: stopped during the follow-ups, the run resumes
    # from before the entry; stopped after them, from after the last fill.
    bar_frame, backtest = _frame(ENTRY), _backtest()
    whole = run(tmp_path / "whole", bar_frame, backtest)
    interrupted = Backtest.create(
        backtest, runs_root(tmp_path / "b"), feed=FrameBarFeed(bar_frame), run_id="stopped"
    )
    assert not interrupted.run(checkpoint_every=1, stop_after_events=stop_after).completed
    checkpoint = read_json(interrupted.run_dir / "checkpoint" / "state.json")
    assert checkpoint["cursor"].endswith(f"T{checkpoint_at}+00:00")
    resumed = resume_backtest(interrupted.run_dir, feed=FrameBarFeed(bar_frame))
    assert resumed.completed
    compared = ["filled_at", "side", "quantity", "price", "fee", "position_after", "cash_after"]
    trades = pl.read_parquet(interrupted.run_dir / TRADES_FILE).select(compared)
    assert whole.trades.select(compared).equals(trades)
    # Ids hash the run's scope: compared by slice.
    assert [(cid[-3:], *rest) for cid, *rest in _orders(interrupted.run_dir)] == [
        (cid[-3:], *rest) for cid, *rest in _orders(whole.path)
    ]
    metrics = read_json(interrupted.run_dir / METRICS_FILE)
    assert _position(metrics) == TARGET
    assert metrics["engine"]["follow_ups"] == whole.metrics["engine"]["follow_ups"] == 2
