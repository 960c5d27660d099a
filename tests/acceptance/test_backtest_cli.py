"""Backtest → profitability gate → validation artifacts, from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from quantgate.engine.backtest import RUN_FILES

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
REPO = Path(__file__).resolve().parents[2]
SYMBOLS = "BTCUSDT,ETHUSDT"
WINDOW = ["--start", "2025-01-01", "--end", "2025-03-01T00:00:00Z"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )


def run_json(*args: str, cwd: Path | None = None) -> tuple[int, dict]:
    result = run(*args, "--json", cwd=cwd)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.strip()


def test_backtest_writes_a_run_folder_and_the_gate_reads_the_latest(
    qg_home: Path, tmp_path: Path
) -> None:
    code, _ = run_json(
        "data", "generate", "--symbols", SYMBOLS, *WINDOW, "--seed", "5", "--posts-per-day", "0.05"
    )
    assert code == 0

    code, first = run_json(
        "backtest",
        "--strategy",
        "momentum",
        "--symbols",
        SYMBOLS,
        *WINDOW,
        "--param",
        "lookback=48",
        "--param",
        "entry_threshold=0.08",
        "--allocator",
        "legacy",
    )
    assert code == 0
    code, backtest = run_json(
        "backtest",
        "--strategy",
        "momentum",
        "--symbols",
        SYMBOLS,
        *WINDOW,
        "--params",
        '{"lookback": 24, "entry_threshold": 0.06}',
    )
    assert code == 0 and backtest["completed"]
    run_dir = Path(backtest["run_dir"])
    assert run_dir.parent == qg_home.resolve() / "runs" / "backtest"
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["git_sha"] == head()
    assert len(record["config_hash"]) == 64 and len(record["data_manifest_hash"]) == 64
    assert sorted(record["data_manifest"]) == [
        "bars_1h/symbol=BTCUSDT/year=2025/data.parquet",
        "bars_1h/symbol=ETHUSDT/year=2025/data.parquet",
    ]
    assert record["strategy_params"]["lookback"] == 24
    assert record["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert record["data"]["sources"] == {"BTCUSDT": "synthetic", "ETHUSDT": "synthetic"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["engine"]["bars"] == 2 * 59 * 24
    assert metrics["fills"] > 0

    # The gate reads the latest run by default, and any run by id.
    code, verdict = run_json("gate", "profitability")
    assert verdict["gate"] == "profitability"
    assert verdict["run_id"] == backtest["run_id"]
    assert code == (0 if verdict["passed"] else 1)
    figures = verdict["figures"]
    for key in ("net_return", "sharpe", "sortino", "max_drawdown", "hit_rate", "turnover"):
        assert key in figures
    assert set(figures["costs"]) == {"fees", "spread_impact_cost", "total"}
    assert set(figures["by_symbol"]) == {"BTCUSDT", "ETHUSDT"}
    assert set(figures["by_bucket"]) == {"majors"} and set(figures["by_horizon"]) == {"1h"}
    assert figures["trials"]["n_trials"] == 1 and figures["trials"]["pbo"] is None
    assert verdict["passed"] == (not verdict["reasons"])
    code, older = run_json("gate", "profitability", "--run", first["run_id"])
    assert older["run_id"] == first["run_id"]
    code, lenient = run_json(
        "gate",
        "profitability",
        "--min-sharpe",
        "-1000",
        "--max-drawdown",
        "1",
        "--min-round-trips",
        "0",
    )
    assert (code, lenient["passed"]) == (0, True)

    # A grid is recorded; the gate then deflates the winner's Sharpe and reports PBO.
    code, grid = run_json(
        "backtest",
        "--strategy",
        "momentum",
        "--symbols",
        SYMBOLS,
        *WINDOW,
        "--param",
        "entry_threshold=0.06",
        "--grid",
        "lookback=24,48",
        "--allocator",
        "legacy",
    )
    assert code == 0
    code, deflated = run_json("gate", "profitability")
    assert deflated["run_id"] == grid["run_id"]
    trials = deflated["figures"]["trials"]
    assert trials["n_trials"] == 2 and trials["pbo"] is not None

    bad = run("backtest", "--strategy", "nope", "--symbols", SYMBOLS, *WINDOW)
    assert bad.returncode == 2
    assert "unknown strategy" in " ".join(bad.stderr.split())


def test_validate_artifacts_manifest_names_head(qg_home: Path, tmp_path: Path) -> None:
    code, _ = run_json(
        "data", "generate", "--symbols", SYMBOLS, *WINDOW, "--seed", "6", "--posts-per-day", "0.05"
    )
    assert code == 0
    out = tmp_path / "results" / "validation"
    code, manifest = run_json(
        "validate",
        "artifacts",
        "--strategy",
        "momentum",
        "--symbols",
        SYMBOLS,
        *WINDOW,
        "--param",
        "entry_threshold=0.06",
        "--grid",
        "lookback=24,48",
        "--folds",
        "2",
        "--allocator",
        "legacy",
        "--out",
        str(out),
        cwd=REPO,
    )
    assert code == 0
    path = Path(manifest["manifest_path"])
    assert path.parent.parent == out and path.name == "manifest.json"
    stored = json.loads(path.read_text())
    assert stored["git_sha"] == head()
    assert [c["params"]["lookback"] for c in stored["candidates"]] == [24, 48]
    assert all(c["parameter_snapshot"]["entry_threshold"] == 0.06 for c in stored["candidates"])
    folds = stored["walk_forward"]["folds"]
    assert len(folds) == 2
    for fold in folds:
        assert fold["train"]["last_day"] < fold["test"]["first_day"]
        assert fold["selected_params"] == stored["candidates"][fold["selected"]]["params"]
    assert stored["walk_forward"]["out_of_sample"]["days"] > 0
    assert len(stored["data_manifest_hash"]) == 64
    for candidate in stored["candidates"]:
        assert (path.parent / candidate["run_dir"] / "metrics.json").is_file()
