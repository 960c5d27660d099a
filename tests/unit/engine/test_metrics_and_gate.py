"""Run metrics by hand, and the profitability gate on real run folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from engine_builders import START, bars, config, frame

from quantgate.engine.backtest import run_backtest, runs_root
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.metrics import daily_returns, round_trips
from quantgate.engine.trials import parse_grid, run_trials
from quantgate.gates.profitability import ProfitabilityThresholds, evaluate_profitability

D = Decimal


def test_daily_returns_start_from_the_initial_capital() -> None:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    curve = pl.DataFrame(
        {
            "ts": [day + timedelta(hours=h) for h in (1, 5, 25, 49)],
            "equity": [101.0, 102.0, 99.96, 104.958],
            "gross_exposure": [0.0] * 4,
        }
    )
    daily = daily_returns(curve, 100.0)
    assert daily["equity"].to_list() == [102.0, 99.96, 104.958]
    assert daily["ret"].to_list() == pytest.approx([0.02, -0.02, 0.05])


def test_the_midnight_mark_closes_the_day_before() -> None:
    # Hourly bars of two whole days: the last bar (23:00 on the 2nd) closes at midnight
    # of the 3rd, the window's end. That mark is the 2nd's close, not a one-hour 3rd day.
    day = datetime(2024, 1, 1, tzinfo=UTC)
    hours = range(1, 49)
    curve = pl.DataFrame(
        {
            "ts": [day + timedelta(hours=h) for h in hours],
            "equity": [100.0 + h for h in hours],
            "gross_exposure": [0.0] * len(hours),
        }
    )
    daily = daily_returns(curve, 100.0)
    assert daily["day"].to_list() == [day.date(), (day + timedelta(days=1)).date()]
    assert daily["equity"].to_list() == [124.0, 148.0]
    assert daily["ret"].to_list() == pytest.approx([0.24, 148.0 / 124.0 - 1.0])


def test_round_trips_run_flat_to_flat_and_flips_split() -> None:
    rows = [
        ("AAA", D(1), D(-1)),  # open long (fee)
        ("AAA", D(2), D(5)),  # add
        ("AAA", D(0), D(10)),  # close: trip pnl 14
        ("AAA", D(-1), D(-3)),  # open short
        ("AAA", D(2), D(-4)),  # flip: closes the short (pnl -7), opens a long
        ("BBB", D(5), D(-1)),  # still open at the end
    ]
    trades = pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "position_after": [r[1] for r in rows],
            "realized_delta": [r[2] for r in rows],
            "bucket": ["majors"] * len(rows),
            "horizon": ["1h"] * len(rows),
        }
    )
    trips = round_trips(trades)
    assert [(t.symbol, t.direction, t.pnl, t.closed) for t in trips] == [
        ("AAA", 1, D(14), True),
        ("AAA", -1, D(-7), True),
        ("AAA", 1, D(0), False),
        ("BBB", 1, D(-1), False),
    ]


# Sixteen hours of a rally and a fade, ten times: several days, several round trips.
CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100, 100, 110, 120, 130, 125, 118, 110] * 10


def test_gate_reads_a_run_and_names_every_failed_threshold(tmp_path: Path) -> None:
    result = run_backtest(config(["AAA"]), tmp_path, feed=FrameBarFeed(frame(bars("AAA", CLOSES))))
    verdict = evaluate_profitability(result.run_dir)
    figures = verdict.figures
    for key in ("net_return", "sharpe", "sortino", "max_drawdown", "hit_rate", "turnover"):
        assert key in figures
    assert figures["costs"]["fees"] == result.metrics["fees"]
    assert set(figures["by_symbol"]) == {"AAA"} and set(figures["by_horizon"]) == {"1h"}
    assert set(figures["by_bucket"]) == {"other"}
    assert figures["trials"]["n_trials"] == 1 and figures["trials"]["deflated_sharpe"] is None
    strict = evaluate_profitability(
        result.run_dir, ProfitabilityThresholds(min_net_sharpe=100.0, min_round_trips=50)
    )
    assert not strict.passed
    assert any("Sharpe" in r for r in strict.reasons)
    assert any("round trips" in r for r in strict.reasons)
    lenient = evaluate_profitability(
        result.run_dir,
        ProfitabilityThresholds(min_net_sharpe=-1e9, max_drawdown=1.0, min_round_trips=0),
    )
    assert lenient.passed and lenient.reasons == []
    assert lenient.to_json()["gate"] == "profitability"


def test_a_grid_records_its_trials_and_the_gate_deflates(tmp_path: Path) -> None:
    closes = [100 * (1 + 0.03 * ((i * 7) % 11 - 5) / 5) ** (i % 3) for i in range(24 * 20)]
    feed = FrameBarFeed(frame(bars("AAA", closes, start=START)))
    grid = parse_grid(["lookback=2,4", "entry_threshold=0.02,0.05"])
    assert len(grid) == 4
    result = run_trials(config(["AAA"]), grid, runs_root(tmp_path), feed=feed)
    assert (result.run_dir / "trials.json").is_file()
    trials_record = json.loads((result.run_dir / "trials.json").read_text())
    best = trials_record["selected"]
    assert result.metrics["run_id"] == result.run_id and result.metrics["selected_trial"] == best
    sharpes = [t["sharpe"] for t in trials_record["trials"]]
    assert sharpes[best] == max(s for s in sharpes if s is not None)
    returns = pl.read_parquet(result.run_dir / "trial_returns.parquet")
    assert returns.columns == ["day", "t000", "t001", "t002", "t003"]
    verdict = evaluate_profitability(result.run_dir)
    trials = verdict.figures["trials"]
    assert trials["n_trials"] == 4
    assert trials["deflated_sharpe"] is not None and trials["pbo"] is not None
    assert 0.0 <= trials["pbo"]["pbo"] <= 1.0
    dsr = trials["deflated_sharpe"]["dsr"]
    if dsr is None or dsr < 0.5:
        assert any("deflated Sharpe" in r for r in verdict.reasons)
