"""What `quantgate backtest` and `quantgate validate artifacts` take in.

Bad input: exit 2 with one error naming the option and the fix, no traceback, and no run
or validation folder left behind (each case compares the whole working folder before and
after). Predictions: only those made inside the window reach the run, and the run records
which file (by absolute path and hash) it read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from cli_in_process import quantgate

from quantgate.storage.lake import file_sha256

SYMBOLS = "BTCUSDT,ETHUSDT"
WINDOW = ("--start", "2025-01-01", "--end", "2025-02-15")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder whose home holds 45 days of synthetic bars for two symbols."""
    folder = tmp_path_factory.mktemp("bad-input")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QG_")}
    subprocess.run(
        [sys.executable, "-m", "quantgate.cli.app", "data", "generate", "--symbols", SYMBOLS,
         *WINDOW, "--seed", "5", "--posts-per-day", "0.05", "--json"],
        cwd=folder,
        env={**env, "QG_HOME": str(folder / "home")},
        capture_output=True,
        check=True,
    )  # fmt: skip
    (folder / "list.json").write_text("[1]")
    (folder / "text.json").write_text('"x"')
    (folder / "params.json").write_text('{"params": "abc"}')
    (folder / "not-parquet.parquet").write_text("symbol,asof\n")
    return folder


@pytest.fixture
def in_workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("QG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QG_HOME", str(workdir / "home"))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.chdir(workdir)
    yield workdir


def files_under(folder: Path) -> set[Path]:
    # The project database records every command; what a run writes lives elsewhere.
    return {p for p in folder.rglob("*") if not p.name.startswith("quantgate.db")}


BACKTEST = ("backtest", "--symbols", SYMBOLS, *WINDOW)
MOMENTUM = (*BACKTEST, "--strategy", "momentum")
VALIDATE = ("validate", "artifacts", "--symbols", SYMBOLS)

CASES = {
    "unknown symbol": (
        ("backtest", "--strategy", "momentum", "--symbols", "FOOUSDT", *WINDOW),
        "symbols:",
        "generate the data first",
    ),
    "window without bars": (
        (
            "backtest",
            "--strategy",
            "momentum",
            "--symbols",
            SYMBOLS,
            "--start",
            "2025-06-01",
            "--end",
            "2025-07-01",
        ),
        "symbols:",
        "no bars_1h bars",
    ),
    "unknown source": ((*MOMENTUM, "--source", "nosuch"), "symbols:", "from source 'nosuch'"),
    "grid over an unknown symbol": (
        (
            "backtest",
            "--strategy",
            "momentum",
            "--symbols",
            "FOOUSDT",
            *WINDOW,
            "--grid",
            "lookback=12,24",
        ),
        "symbols:",
        "generate the data first",
    ),
    "missing predictions file": (
        (*BACKTEST, "--strategy", "ml_signal", "--predictions", "nowhere.parquet"),
        "--predictions:",
        "no predictions file at",
    ),
    "predictions file that is not Parquet": (
        (*BACKTEST, "--strategy", "ml_signal", "--predictions", "not-parquet.parquet"),
        "--predictions:",
        "as Parquet",
    ),
    "config file holding a list": (
        (*MOMENTUM, "--config-file", "list.json"),
        "--config-file:",
        "holds a JSON list, not an object",
    ),
    "config file holding a string": (
        (*MOMENTUM, "--config-file", "text.json"),
        "--config-file:",
        "holds a JSON str, not an object",
    ),
    "config file whose params are not an object": (
        (*MOMENTUM, "--config-file", "params.json"),
        "--config-file:",
        "'params' in params.json is not a JSON object",
    ),
    "pair leg not fed": (
        ("backtest", "--strategy", "pairs", "--symbols", "BTCUSDT", *WINDOW),
        "backtest:",
        "strategy pairs is set to trade ETHUSDT, which the backtest does not feed",
    ),
    "ensemble member's pair leg not fed": (
        (
            "backtest",
            "--strategy",
            "ensemble",
            "--symbols",
            "ETHUSDT",
            *WINDOW,
            "--params",
            json.dumps({"members": [{"strategy": "pairs", "weight": 1.0}]}),
        ),
        "backtest:",
        "is set to trade BTCUSDT",
    ),
    "no strategy": (BACKTEST, "--strategy:", "required unless --resume"),
    "no start": (
        ("backtest", "--strategy", "momentum", "--end", "2025-02-15"),
        "--start:",
        "required unless --resume",
    ),
    "unknown run to resume": (
        ("backtest", "--resume", "no-such-run"),
        "--resume:",
        "no backtest run 'no-such-run'",
    ),
    "validation window too short for the folds": (
        (*VALIDATE, "--strategy", "momentum", "--start", "2025-01-01", "--end", "2025-01-10"),
        "--folds:",
        "cannot hold 4 test folds",
    ),
    "validation of an unknown symbol": (
        ("validate", "artifacts", "--strategy", "momentum", "--symbols", "FOOUSDT", *WINDOW),
        "symbols:",
        "generate the data first",
    ),
    "validation with a missing predictions file": (
        (*VALIDATE, *WINDOW, "--strategy", "ml_signal", "--predictions", "nowhere.parquet"),
        "--predictions:",
        "no predictions file at",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_by_name_and_leaves_nothing(
    case: str, in_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, field, problem = CASES[case]
    before = files_under(in_workdir)

    code, output = quantgate(capsys, *args)

    assert code == 2, output
    assert field in output and problem in output, output
    assert "Traceback" not in output
    assert files_under(in_workdir) == before


def test_negative_checkpoint_interval_is_refused(
    in_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = files_under(in_workdir)
    code, output = quantgate(capsys, *MOMENTUM, "--checkpoint-every", "-1")
    assert code == 2
    assert "--checkpoint-every" in output and "greater than or equal to 0" in output
    assert files_under(in_workdir) == before


def test_predictions_outside_the_window_reach_nothing(
    in_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hours = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(44 * 24)]
    # Confident views on every hour of the lake's 45 days, the window being the first 31.
    pl.DataFrame(
        {
            "symbol": "BTCUSDT",
            "asof": [hour + timedelta(seconds=5) for hour in hours],
            "horizon": "1h",
            "expected_return": [0.01 if i % 48 < 24 else -0.01 for i in range(len(hours))],
            "signal_confidence": 0.9,
            "vol_forecast": 0.01,
        }
    ).write_parquet(in_workdir / "views.parquet")
    window_end = "2025-02-01T00:00:00Z"

    code, output = quantgate(
        capsys, "backtest", "--strategy", "ml_signal", "--symbols", "BTCUSDT",
        "--start", "2025-01-01", "--end", window_end, "--predictions", "views.parquet", "--json",
    )  # fmt: skip

    assert code == 0, output
    run_dir = Path(json.JSONDecoder().raw_decode(output)[0]["run_dir"])
    curve = pl.read_parquet(run_dir / "equity.parquet")
    # The last bar of the window (23:00) is published 5 s after it closes, at the end.
    assert curve["ts"].max() == datetime(2025, 2, 1, 0, 0, 5, tzinfo=UTC)
    assert pl.read_parquet(run_dir / "trades.parquet").height > 0
    record = json.loads((run_dir / "run.json").read_text())
    assert record["data"]["predictions"] == 31 * 24
    assert record["predictions_file"] == {
        "path": str(in_workdir / "views.parquet"),
        "sha256": file_sha256(in_workdir / "views.parquet"),
    }
    assert json.loads((run_dir / "config.json").read_text())["predictions"] == str(
        in_workdir / "views.parquet"
    )
