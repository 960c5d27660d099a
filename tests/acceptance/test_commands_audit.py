"""`quantgate backtest` and `quantgate validate artifacts` as a user meets them: the config
hash names the run and not its spelling, a grid that cannot be run is refused by name, and
a stopped validation leaves no half-written folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_in_process import quantgate

from quantgate.engine.backtest import BacktestConfig
from quantgate.engine.trials import with_params

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
SYMBOLS = "BTCUSDT,ETHUSDT"
SHORT_WINDOW = ("--start", "2025-01-01", "--end", "2025-01-06T00:00:00Z")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home with 45 days of synthetic bars for two symbols."""
    folder = tmp_path_factory.mktemp("commands-audit") / "home"
    generated = run(
        folder, "data", "generate", "--symbols", SYMBOLS, "--start", "2025-01-01",
        "--end", "2025-02-15", "--seed", "5", "--posts-per-day", "0.05", "--json",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    return folder


def environment(home: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("QG_")}
    return {**kept, "QG_HOME": str(home), "COLUMNS": "400"}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        cwd=home.parent,
        env=environment(home),
        check=False,
    )


def run_folders(home: Path) -> set[str]:
    root = home / "runs" / "backtest"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def backtest_record(home: Path, *extra: str) -> tuple[dict[str, object], dict[str, object]]:
    result = run(home, "backtest", "--strategy", "momentum", "--symbols", SYMBOLS,
                 *SHORT_WINDOW, "--allocator", "legacy", *extra, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    record = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return record, metrics


def test_config_hash_changes_with_the_run_and_not_with_its_spelling(home: Path) -> None:
    plain, plain_metrics = backtest_record(home)
    # momentum's default lookback is 24; the capital is the default 100000 written otherwise.
    spelt, spelt_metrics = backtest_record(home, "--param", "lookback=24.0", "--capital", "1E+5")
    stored = BacktestConfig.model_validate_json(
        (home / "runs" / "backtest" / str(plain["run_id"]) / "config.json").read_text()
    )

    assert spelt_metrics["final_equity"] == plain_metrics["final_equity"]
    assert spelt["config_hash"] == plain["config_hash"] == stored.config_hash
    assert with_params(stored, {"lookback": 30}).config_hash != plain["config_hash"]
    assert with_params(stored, {"lookback": 24}).config_hash == plain["config_hash"]
    # The recorded parameters are the ones the strategy ran with, defaults included.
    assert spelt["strategy_params"] == plain["strategy_params"]
    assert stored.params["lookback"] == 24


@pytest.fixture
def in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("QG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QG_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.chdir(home.parent)
    return home


@pytest.mark.parametrize(
    ("grid", "problem"),
    [
        ("lookback=,", "lists no values"),
        ("lookback=24,24.0", "are the same configuration"),
    ],
)
@pytest.mark.parametrize("command", ["backtest", "validate"])
def test_a_grid_that_cannot_be_run_is_refused_by_name(
    in_home: Path, capsys: pytest.CaptureFixture[str], command: str, grid: str, problem: str
) -> None:
    before = run_folders(in_home)
    prefix = ("backtest",) if command == "backtest" else ("validate", "artifacts", "--folds", "2")
    window = ("--start", "2025-01-01", "--end", "2025-02-15")
    code, output = quantgate(
        capsys, *prefix, "--strategy", "momentum", "--symbols", SYMBOLS, *window, "--grid", grid
    )
    assert code == 2, output
    assert "--grid:" in output and problem in output, output
    assert "Traceback" not in output
    assert run_folders(in_home) == before
    assert not (in_home.parent / "results").exists()


def test_an_end_before_the_start_names_end(
    in_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run_folders(in_home)
    code, output = quantgate(capsys, "backtest", "--strategy", "momentum", "--symbols", SYMBOLS,
                             "--start", "2025-02-01", "--end", "2025-01-15")  # fmt: skip
    assert code == 2
    assert "--end:" in output and "later than --start" in output, output
    assert run_folders(in_home) == before


def test_a_terminated_validation_leaves_no_folder(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "validation"
    process = subprocess.Popen(
        [*QUANTGATE, "validate", "artifacts", "--strategy", "momentum", "--symbols", SYMBOLS,
         "--start", "2025-01-01", "--end", "2025-02-15", "--folds", "2",
         "--grid", "lookback=12,18,24,30,36,42,48,60", "--out", str(out)],
        cwd=home.parent,
        env=environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    # Stopped once its first candidate's run folder exists, well before the manifest.
    while not list(out.glob("*/runs/c000")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)
    assert list(out.glob("*/runs/c000")), "the validation never started a candidate"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert not out.exists(), stderr  # nor the folder it made to hold its own
