"""`quantgate gate profitability` judges only a complete run whose files read back whole.

Anything else is refused with exit 2 (configuration) or 3 (data), one error naming the
option or file and the fix, no traceback, and with --json a refusal verdict on stdout."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import structlog
from engine_builders import bars, config, frame
from pydantic import ValidationError

from quantgate.cli.app import main
from quantgate.engine.backtest import find_run, run_backtest, runs_root
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.trials import parse_grid, run_trials
from quantgate.gates.profitability import ProfitabilityThresholds, evaluate_profitability

# A rally and a fade, five times: a few days of bars and several round trips.
CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100, 100, 110, 120, 130, 125, 118, 110] * 5
# Thresholds every sound run here passes, so only a refusal can fail the gate.
LENIENT = ("--min-sharpe", "-1e9", "--max-drawdown", "1", "--min-round-trips", "0")
LENIENT_GRID = (*LENIENT, "--min-deflated-sharpe", "0", "--max-pbo", "1")
EXIT_CONFIGURATION, EXIT_DATA = 2, 3


@dataclass
class Gate:
    code: int | str | None
    out: str
    err: str

    @property
    def verdict(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.out)
        return payload


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding one complete single run and one complete grid run, never altered."""
    home = tmp_path_factory.mktemp("pristine") / "home"
    feed = FrameBarFeed(frame(bars("AAA", CLOSES)))
    run_backtest(config(["AAA"]), home, feed=feed)
    grid = parse_grid(["lookback=2,4"])
    run_trials(config(["AAA"]), grid, runs_root(home), feed=feed)
    return home


@pytest.fixture
def home(pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the pristine home, as QG_HOME, for the test to damage."""
    copy = tmp_path / "home"
    shutil.copytree(pristine, copy)
    for name in list(os.environ):
        if name.startswith("QG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QG_HOME", str(copy))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.chdir(tmp_path)
    yield copy


def single_run(home: Path) -> Path:
    return next(p for p in sorted(runs_root(home).iterdir()) if not (p / "trials.json").exists())


def grid_run(home: Path) -> Path:
    return next(p for p in sorted(runs_root(home).iterdir()) if (p / "trials.json").exists())


def gate(capsys: pytest.CaptureFixture[str], *args: str) -> Gate:
    """`quantgate gate profitability ARGS` in this process, its error handler included."""
    argv = sys.argv
    sys.argv = ["quantgate", "gate", "profitability", *args]
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exited:
        code = exited.code
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return Gate(code, captured.out, " ".join(captured.err.split()))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_json(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def assert_refused(result: Gate, code: int, kind: str, named: str) -> dict[str, Any]:
    assert result.code == code, result.err
    assert "Traceback" not in result.err and "PASSED" not in result.err
    assert result.verdict["gate"] == "profitability" and result.verdict["passed"] is False
    error: dict[str, Any] = result.verdict["error"]
    assert error["kind"] == kind
    assert named in error["message"] and named in result.err
    assert error["fix"] and error["fix"] in result.err
    return error


def test_a_sound_run_still_passes(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = gate(capsys, *LENIENT, "--run", single_run(home).name, "--json")
    assert (result.code, result.verdict["passed"]) == (0, True)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "option", ["--min-sharpe", "--max-drawdown", "--min-deflated-sharpe", "--max-pbo"]
)
def test_a_threshold_that_is_not_finite_is_refused(
    option: str, value: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = gate(capsys, *LENIENT, option, value, "--json")
    error = assert_refused(result, EXIT_CONFIGURATION, "configuration", value)
    assert error["field"] == option and option in error["fix"]


def test_thresholds_refuse_nan_and_infinity() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValidationError, match="finite number"):
            ProfitabilityThresholds(min_net_sharpe=value)


@pytest.mark.parametrize("name", ["trades.parquet", "equity.parquet", "metrics.json"])
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_run_file_is_a_data_error(
    name: str, damage: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = single_run(home)
    if damage == "missing":
        (run_dir / name).unlink()
    else:
        truncate(run_dir / name)
    result = gate(capsys, *LENIENT, "--run", run_dir.name, "--json")
    error = assert_refused(result, EXIT_DATA, "data", name)
    assert error["file"] == str(run_dir / name)
    assert "re-run the backtest" in error["fix"]


def test_a_trade_log_cut_short_is_a_data_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = single_run(home) / "trades.parquet"
    whole = pl.read_parquet(trades)
    whole.head(whole.height - 1).write_parquet(trades)
    result = gate(capsys, *LENIENT, "--run", single_run(home).name, "--json")
    assert "fills" in assert_refused(result, EXIT_DATA, "data", "trades.parquet")["message"]


def test_an_empty_equity_curve_is_a_data_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    equity = single_run(home) / "equity.parquet"
    pl.read_parquet(equity).head(0).write_parquet(equity)
    result = gate(capsys, *LENIENT, "--run", single_run(home).name, "--json")
    assert "no rows" in assert_refused(result, EXIT_DATA, "data", "equity.parquet")["message"]


METRICS_DAMAGE: dict[str, Any] = {
    "without initial capital": lambda m: {k: v for k, v in m.items() if k != "initial_capital"},
    "a list": lambda m: [1, 2],
    "a Sharpe as text": lambda m: {**m, "sharpe": "2.1"},
    "a NaN drawdown": lambda m: {**m, "max_drawdown": float("nan")},
    "round trips as text": lambda m: {**m, "round_trips": "20"},
    "a breakdown as a list": lambda m: {**m, "by_symbol": [1]},
}


@pytest.mark.parametrize("case", METRICS_DAMAGE)
def test_corrupt_metrics_are_a_data_error(
    case: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = single_run(home) / "metrics.json"
    metrics.write_text(json.dumps(METRICS_DAMAGE[case](json.loads(metrics.read_text()))))
    result = gate(capsys, *LENIENT, "--run", single_run(home).name, "--json")
    assert_refused(result, EXIT_DATA, "data", "metrics.json")


@pytest.mark.parametrize("name", ["trials.json", "trial_returns.parquet"])
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_grid_record_is_a_data_error(
    name: str, damage: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = grid_run(home)
    assert gate(capsys, *LENIENT_GRID, "--run", run_dir.name).code == 0
    if damage == "missing":
        (run_dir / name).unlink()
    else:
        truncate(run_dir / name)
    result = gate(capsys, *LENIENT_GRID, "--run", run_dir.name, "--json")
    assert_refused(result, EXIT_DATA, "data", name)


@pytest.mark.parametrize("status", ["interrupted", "running"])
def test_only_a_complete_run_is_judged(
    status: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = single_run(home)
    edit_json(run_dir / "run.json", status=status)
    result = gate(capsys, *LENIENT, "--run", run_dir.name, "--json")
    error = assert_refused(result, EXIT_CONFIGURATION, "configuration", run_dir.name)
    assert error["field"] == "--run"
    assert f"quantgate backtest --resume {run_dir.name}" in error["fix"]
    assert status in error["message"] or "unfinished" in error["message"]


def unreadable_newest_run(home: Path) -> Path:
    """A copy of the single run, named to be the newest, whose run.json is cut short."""
    damaged = runs_root(home) / "29991231T000000000000Z-momentum-bad0"
    shutil.copytree(single_run(home), damaged)
    truncate(damaged / "run.json")
    return damaged


def test_the_latest_run_skips_an_unreadable_run_json_with_a_warning(home: Path) -> None:
    damaged = unreadable_newest_run(home)
    with structlog.testing.capture_logs() as logs:
        assert find_run(home) == grid_run(home)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [entry["run_file"] for entry in warnings] == [str(damaged / "run.json")]


def test_the_gate_judges_the_latest_readable_run(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreadable_newest_run(home)
    result = gate(capsys, *LENIENT_GRID, "--json")
    assert (result.code, result.verdict["run_id"]) == (0, grid_run(home).name)


def test_naming_a_run_with_an_unreadable_run_json_is_a_data_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = unreadable_newest_run(home)
    result = gate(capsys, *LENIENT, "--run", damaged.name, "--json")
    assert assert_refused(result, EXIT_DATA, "data", "run.json")["file"] == str(
        damaged / "run.json"
    )


def test_a_single_run_says_why_it_has_no_deflated_sharpe(home: Path) -> None:
    trials = evaluate_profitability(single_run(home)).figures["trials"]
    assert trials["n_trials"] == 1
    assert trials["deflated_sharpe"] is None and trials["pbo"] is None
    assert "--grid" in trials["note"]
    grid_trials = evaluate_profitability(grid_run(home)).figures["trials"]
    assert set(trials) - {"note"} <= set(grid_trials)


def test_a_refusal_keeps_stderr_and_prints_no_json_without_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (single_run(home) / "trades.parquet").unlink()
    result = gate(capsys, *LENIENT, "--run", single_run(home).name)
    assert result.code == EXIT_DATA and result.out == ""
    assert result.err.startswith("data error:") and "trades.parquet" in result.err
