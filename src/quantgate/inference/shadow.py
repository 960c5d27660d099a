"""The shadow log: what the shadow version said about each request, kept off the request path.

Records are queued by the request and written by one background thread in
batches, to the `shadow_predictions` table and to a JSONL file per UTC day
(`<home>/shadow/shadow-YYYY-MM-DD.jsonl`), so a slow disk or database never
delays a prediction. `flush()` waits until everything queued is written.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from quantgate.storage.models.registry import ShadowPredictionRow

log = structlog.get_logger(__name__)

_BATCH = 256


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    scored_at: datetime
    symbol: str
    horizon: str
    asof: datetime
    active_version_id: str | None
    shadow_version_id: str
    active_expected_return: float | None
    active_signal_confidence: float | None
    active_vol_forecast: float | None
    shadow_expected_return: float
    shadow_signal_confidence: float
    shadow_vol_forecast: float


class ShadowLog:
    def __init__(self, engine: Engine, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self._queue: queue.Queue[ShadowRecord | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="shadow-log", daemon=True)
        self._thread.start()
        self.written = 0
        self.failed = 0

    def record(self, record: ShadowRecord) -> None:
        self._queue.put(record)

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _drain(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                self._write(batch)
                self.written += len(batch)
            except (OSError, SQLAlchemyError) as error:
                self.failed += len(batch)
                log.error("shadow log write failed", records=len(batch), error=str(error))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, batch: list[ShadowRecord]) -> None:
        rows = [asdict(record) for record in batch]
        with self.engine.begin() as connection:
            connection.execute(insert(ShadowPredictionRow), rows)
        self.folder.mkdir(parents=True, exist_ok=True)
        by_day: dict[str, list[str]] = {}
        for row in rows:
            day = row["scored_at"].strftime("%Y-%m-%d")
            by_day.setdefault(day, []).append(json.dumps(row, default=_iso))
        for day, lines in by_day.items():
            with (self.folder / f"shadow-{day}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
