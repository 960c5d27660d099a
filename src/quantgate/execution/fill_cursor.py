"""Where the gateway last read a venue's fills (a row of the job checkpoints table).

Read once, then kept in memory; a moved cursor is written with the unit of work. A
stale cursor (another process moved it meanwhile) only makes the venue repeat fills,
which the outbox stores once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from quantgate.storage.ledger import UnitOfWork, dialect_insert, table_of
from quantgate.storage.models import JobCheckpoint

_CHECKPOINTS = table_of(JobCheckpoint)


class FillCursor:
    def __init__(self, scope: str, venue: str) -> None:
        self.job = f"fill_cursor:{scope}"
        self.venue = venue
        self._loaded = False
        self._cursor: str | None = None
        self._unwritten = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def value(self) -> str | None:
        return self._cursor

    def get(self, unit: UnitOfWork) -> str | None:
        if not self._loaded:
            state = unit.execute(
                select(_CHECKPOINTS.c.state).where(
                    _CHECKPOINTS.c.job == self.job, _CHECKPOINTS.c.key == self.venue
                )
            ).scalar_one_or_none()
            self._cursor = None if state is None else state.get("cursor")
            self._loaded = True
        return self._cursor

    def put(self, unit: UnitOfWork, cursor: str | None) -> None:
        self._cursor, self._loaded, self._unwritten = cursor, True, True
        unit.enlist(self, rows=1)

    def flush(self, unit: UnitOfWork) -> None:
        if not self._unwritten:
            return
        self._unwritten = False
        values: dict[str, Any] = {
            "state": {"cursor": self._cursor},
            "note": None,
            "updated_at": datetime.now(UTC),
        }
        insert = dialect_insert(unit.connection, _CHECKPOINTS)
        unit.connection.execute(
            insert.values(job=self.job, key=self.venue, **values).on_conflict_do_update(
                index_elements=["job", "key"], set_=values
            )
        )

    def discard(self) -> None:
        self._loaded = self._unwritten = False
