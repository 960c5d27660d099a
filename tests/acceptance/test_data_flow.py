"""Data phases from the CLI: generate → audit → remediate → audit, and real-file imports."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
START, END = "2025-01-01", "2025-04-01T00:00:00Z"
SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT,DOGEUSDT"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}
    )


def run_json(*args: str) -> tuple[int, dict]:
    result = run(*args, "--json")
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_generate_audit_remediate_closes_exactly_the_planted_gaps(qg_home: Path) -> None:
    code, generated = run_json(
        "data",
        "generate",
        "--symbols",
        SYMBOLS,
        "--start",
        START,
        "--end",
        END,
        "--seed",
        "11",
        "--gap-fraction",
        "0.002",
    )
    assert code == 0
    source = SyntheticMarketSource(
        SyntheticMarketConfig(
            seed=11,
            symbols=tuple(SYMBOLS.split(",")),
            start=datetime(2025, 1, 1, tzinfo=UTC),
            end=datetime(2025, 4, 1, tzinfo=UTC),
            gap_fraction=0.002,
        )
    )
    planted = sorted((g.symbol, iso(g.start), iso(g.end)) for g in source.planted_bar_gaps())
    assert planted and generated["planted_bar_gaps"] == len(planted)
    planted_days = sorted((g.symbol, g.day) for g in source.planted_social_gaps())

    code, audit = run_json("data", "audit", "--start", START, "--end", END)
    assert code == 1
    found = sorted(
        (series["symbol"], gap["start"], gap["end"])
        for series in audit["bars"]
        for gap in series["gaps"]
    )
    assert found == planted
    assert audit["summary"]["gap_count"] == len(planted)
    hours = sum(
        (datetime.fromisoformat(e) - datetime.fromisoformat(s)) // timedelta(hours=1)
        for _, s, e in planted
    )
    assert audit["summary"]["missing_bars"] == hours
    assert audit["summary"]["missing_social_days"] == len(planted_days)
    assert audit["summary"]["history_window_complete"] is False
    assert audit["summary"]["comment_ratio_ge_10x"] is True

    code, remediation = run_json("data", "remediate")
    assert code == 0, remediation["rounds"]
    assert remediation["rounds"][0]["filled"] >= hours
    assert remediation["rounds"][0]["confirmed_source_gaps"] == 0

    code, final = run_json("data", "audit", "--start", START, "--end", END)
    assert code == 0
    summary = final["summary"]
    assert summary["history_window_complete"] and summary["comment_ratio_ge_10x"]
    assert summary["missing_bars"] == 0 and summary["gap_count"] == 0
    assert summary["present_bars"] == summary["expected_bars"]

    engine = create_engine(f"sqlite:///{qg_home / 'quantgate.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT passed, history_window_complete FROM audit_runs ORDER BY id")
        ).all()
    assert [tuple(map(bool, r)) for r in rows] == [(False, False), (True, True), (True, True)]

    code, quality = run_json("data", "quality", "--asof", END)
    assert code == 0 and quality["summary"]["bad_rows"] == 0


def independent_gap_count(path: Path) -> tuple[int, int]:
    """Missing hourly bars and gap runs, straight from the raw gzip CSV."""
    with gzip.open(path, "rt") as handle:
        stamps = [
            datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            for row in csv.DictReader(handle)
        ]
    missing = runs = 0
    for before, after in itertools.pairwise(stamps):
        hole = (after - before) // timedelta(hours=1) - 1
        if hole > 0:
            missing += hole
            runs += 1
    return missing, runs


@pytest.mark.realdata
def test_real_binance_files_audit_matches_raw_count_then_gaps_are_confirmed(
    qg_home: Path, shared_data: Path
) -> None:
    folder = shared_data / "binance_spot_1h"
    assert run("data", "import", str(folder)).returncode == 0
    _, audit = run_json("data", "audit")
    by_symbol = {series["symbol"]: series for series in audit["bars"]}
    assert len(by_symbol) == 13
    for symbol in ("BTCUSDT", "SOLUSDT", "DOGEUSDT"):
        missing, runs = independent_gap_count(folder / f"{symbol}_1h.csv.gz")
        assert (by_symbol[symbol]["missing_bars"], len(by_symbol[symbol]["gaps"])) == (
            missing,
            runs,
        )
    outage = next(g for g in by_symbol["BTCUSDT"]["gaps"] if g["start"] == "2018-02-08T01:00:00Z")
    assert outage["bars"] == 33

    code, remediation = run_json("data", "remediate")
    assert code == 1  # no social data: the comment-ratio check cannot pass
    final = remediation["final_audit"]["summary"]
    assert final["history_window_complete"] is True
    assert final["missing_bars"] == 0
    assert final["confirmed_missing_bars"] == audit["summary"]["missing_bars"]
    btc = next(s for s in remediation["final_audit"]["bars"] if s["symbol"] == "BTCUSDT")
    evidence = next(g for g in btc["confirmed_gaps"] if g["start"] == "2018-02-08T01:00:00Z")
    assert evidence["evidence"]["returned_rows"] == 0
    assert evidence["evidence"]["source"] == "files:binance_spot_1h"


def test_malformed_import_names_file_row_field_and_writes_nothing(
    qg_home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "BTCUSDT_1h.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
        "2024-01-01T01:00:00Z,1.5,2,1,nan,10\n"
    )
    result = run("data", "import", str(bad))
    assert result.returncode == 3
    message = " ".join(result.stderr.split())
    assert "BTCUSDT_1h.csv" in message and "row 2" in message and "close" in message
    assert not (qg_home / "lake" / "bars_1h").exists()
