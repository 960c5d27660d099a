"""The shadow log writes every queued record to `shadow_predictions` (SQLite and PostgreSQL)
and to the day's JSONL file, off the caller's thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from quantgate.inference.shadow import ShadowLog, ShadowRecord
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.models.registry import ShadowPredictionRow


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def record(i: int, scored_at: datetime) -> ShadowRecord:
    return ShadowRecord(
        scored_at=scored_at,
        symbol="BTCUSDT",
        horizon="1h",
        asof=datetime(2025, 2, 1, tzinfo=UTC) + timedelta(hours=i),
        active_version_id=None if i == 0 else "BTCUSDT-1h-aaaa",
        shadow_version_id="BTCUSDT-1h-bbbb",
        active_expected_return=None if i == 0 else 0.001 * i,
        active_signal_confidence=None if i == 0 else 0.5,
        active_vol_forecast=None if i == 0 else 0.01,
        shadow_expected_return=-0.001 * i,
        shadow_signal_confidence=0.55,
        shadow_vol_forecast=0.012,
    )


def test_every_record_reaches_the_table_and_the_jsonl(engine: Engine, tmp_path: Path) -> None:
    log = ShadowLog(engine, tmp_path / "shadow")
    scored_at = datetime(2026, 11, 21, 12, tzinfo=UTC)
    for i in range(600):  # more than one write batch
        log.record(record(i, scored_at))
    log.flush()
    log.close()

    with engine.connect() as connection:
        rows = connection.execute(
            select(ShadowPredictionRow.__table__).order_by(ShadowPredictionRow.id)
        ).all()
    assert len(rows) == 600 and log.written == 600 and log.failed == 0
    assert rows[0].active_version_id is None and rows[0].active_expected_return is None
    assert rows[5].shadow_expected_return == pytest.approx(-0.005)
    assert rows[5].asof == datetime(2025, 2, 1, 5, tzinfo=UTC)
    lines = (tmp_path / "shadow" / "shadow-2026-11-21.jsonl").read_text().splitlines()
    assert len(lines) == 600
    assert json.loads(lines[5])["asof"] == "2025-02-01T05:00:00+00:00"
