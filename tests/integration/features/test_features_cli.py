"""The `quantgate features` commands: JSON on stdout, exit 0 only when the gate passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from features_lake import SYMBOLS
from typer.testing import CliRunner

from quantgate.cli.app import app
from quantgate.features import CONTRACT
from quantgate.features.fixtures import write_synthetic_lake
from quantgate.storage.lake import Lake


@pytest.fixture
def home(qg_home: Path) -> Path:
    write_synthetic_lake(Lake(qg_home / "lake"), SYMBOLS, datetime(2021, 1, 1, tzinfo=UTC), 24 * 40)
    return qg_home


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, list(args))
    try:
        payload = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {result.exit_code}): {result.output}") from None
    return result.exit_code, payload


def test_contract_json(qg_home: Path) -> None:
    code, payload = run("features", "contract", "--json")
    assert code == 0
    assert payload["width"] == CONTRACT.width >= 528
    assert payload["contract_hash"] == CONTRACT.contract_hash
    assert payload["blocks"] == CONTRACT.blocks


def test_build_then_both_gates(home: Path) -> None:
    code, built = run("features", "build", "--embedder", "hashing", "--json")
    assert code == 0, built
    assert built["mode"] == "full" and built["embedder"]["kind"] == "hashing"
    assert built["rows_computed"] == len(SYMBOLS) * 24 * 40
    code, again = run("features", "build", "--embedder", "hashing", "--json")
    assert code == 0 and again["mode"] == "up_to_date"
    code, report = run("features", "validate-asof", "--embedder", "hashing", "--json")
    assert code == 0, report
    assert report["future_leakage_count"] == 0 and report["snapshot_time_consistency"] == 1.0
    code, report = run("features", "lookahead", "--embedder", "hashing", "--cuts", "4", "--json")
    assert code == 0, report
    assert report["biased_feature_count"] == 0


def test_gates_fail_without_features(home: Path) -> None:
    code, report = run("features", "validate-asof", "--embedder", "hashing", "--json")
    assert code == 1 and report["passed"] is False
    code, report = run("features", "lookahead", "--embedder", "hashing", "--json")
    assert code == 1 and report["passed"] is False


def test_a_small_sample_is_refused(home: Path) -> None:
    result = CliRunner().invoke(app, ["features", "validate-asof", "--sample", "500"])
    assert result.exit_code != 0
