"""`quantgate ml` from the CLI: generate → features → eval --json → train → validate-leakage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
SMALL = [
    "--horizons",
    "1h,1d",
    "--folds",
    "2",
    "--rounds",
    "15",
    "--max-train-rows",
    "3000",
    "--workers",
    "1",
    "--embedder",
    "hashing",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}
    )


def test_eval_train_and_validate_leakage(qg_home: Path) -> None:
    assert (
        run(
            "data",
            "generate",
            "--symbols",
            "BTCUSDT,ETHUSDT,SOLUSDT",
            "--start",
            "2025-01-01",
            "--end",
            "2025-02-20T00:00:00Z",
            "--seed",
            "3",
        ).returncode
        == 0
    )
    assert run("features", "build", "--embedder", "hashing").returncode == 0
    result = run("ml", "eval", *SMALL, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["oracle_ic"]) >= {"1h", "1d"} and "ic_to_oracle" in report
    assert {
        "symbol",
        "horizon",
        "fold",
        "ic",
        "rank_ic",
        "hit_rate",
        "ece",
        "vol_forecast_error",
        "backtest",
    } <= set(report["per_fold"][0])
    result = run("ml", "train", *SMALL, "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert (Path(trained["artifact"]["path"]) / "metadata.json").is_file()
    result = run("ml", "validate-leakage", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["violating_runs"] == 0
