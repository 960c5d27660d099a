"""A backtest whose orders the risk gate denies says so once, on its result line, with
the count by reason; the console gets no line per denied order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
WINDOW = ["--start", "2025-01-01", "--end", "2025-02-01T00:00:00Z"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def test_denials_are_counted_on_the_result_line_not_logged_per_order(
    qg_home: Path, tmp_path: Path
) -> None:
    generated = run("data", "generate", "--symbols", "BTCUSDT", *WINDOW, "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    # No order of a 100,000 account fits under a 10 (quote currency) per-order limit.
    config = tmp_path / "tiny_orders.json"
    config.write_text(json.dumps({"risk": {"max_order_notional": "10"}}))
    args = ["backtest", "--strategy", "momentum", "--symbols", "BTCUSDT", *WINDOW]
    args += ["--param", "lookback=24", "--param", "entry_threshold=0.02"]
    args += ["--config-file", str(config)]

    result = run(*args)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (qg_home / "runs" / "backtest").iterdir()
    denials = json.loads((run_dir / "metrics.json").read_text())["engine"]["denials"]
    count = denials["max_order_notional"]
    assert count > 0 and set(denials) == {"max_order_notional"}
    line = " ".join((result.stdout + result.stderr).split())
    assert f"the risk gate denied {count} orders (max_order_notional {count})" in line
    assert "risk_denied" not in result.stdout + result.stderr
