"""`quantgate data backfill` against the local fake Binance, then audit and remediate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fake_binance import FakeBinance

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]


def run_json(*args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [*QUANTGATE, *args, "--json"], capture_output=True, text=True, env={**os.environ}
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_backfill_audit_remediate_against_local_exchange(
    qg_home: Path, fake_binance: FakeBinance
) -> None:
    api = f"{fake_binance.url}/api/v3"
    args = (
        "data",
        "backfill",
        "--exchange",
        "binance",
        "--symbols",
        "BTCUSDT",
        "--since",
        "2024-01-01T00:00:00Z",
        "--until",
        "2024-01-11T10:00:00Z",
        "--api-url",
        api,
    )
    code, first = run_json(*args)
    assert code == 0
    btc = first["symbols"]["BTCUSDT"]
    assert btc["inserted"] == 250 - 10  # the exchange's 10-hour hole stays missing
    assert first["source"] == "ccxt:binance"

    code, second = run_json(*args)
    assert code == 0
    assert second["symbols"]["BTCUSDT"]["inserted"] == 0
    assert second["symbols"]["BTCUSDT"]["resumed_from"] is not None

    code, audit = run_json(
        "data", "audit", "--start", "2024-01-01T00:00:00Z", "--end", "2024-01-11T10:00:00Z"
    )
    assert code == 1
    gaps = audit["bars"][0]["gaps"]
    assert [(g["start"], g["bars"]) for g in gaps] == [("2024-01-06T00:00:00Z", 10)]

    requests_before = len(fake_binance.requests())
    code, remediation = run_json("data", "remediate")
    assert len(fake_binance.requests()) > requests_before  # it asked the exchange again
    final = remediation["final_audit"]["summary"]
    assert final["history_window_complete"] is True
    assert final["confirmed_missing_bars"] == 10
    assert code == 1  # no social data, so the comment-ratio check still fails
