"""Where the gateway last read a venue's fills (a row of the job checkpoints table).

Read once, then kept in memory; a moved cursor is written with the unit of work. A
stale cursor (another process moved it meanwhile) only makes the venue repeat fills,
which the outbox stores once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from quantgate.storage.bulk import BulkStatement
from quantgate.storage.ledger import UnitOfWork, table_of
from quantgate.storage.models import JobCheckpoint

_CHECKPOINTS = table_of(JobCheckpoint)
_KEYS = ("job", "key", "state", "note", "updated_at")


def _upsert(insert: sqlite.Insert | postgresql.Insert) -> BulkStatement:
    # Compiled once, like the other rows written at a flush: building and compiling the
    # statement at each flush cost more than executing it.
    excluded = insert.excluded
    replace = {name: excluded[name] for name in ("state", "note", "updated_at")}
    statement = insert.on_conflict_do_update(index_elements=["job", "key"], set_=replace)
    return BulkStatement(statement, _KEYS, _CHECKPOINTS)


_UPSERT = {
    "sqlite": _upsert(sqlite.insert(_CHECKPOINTS)),
    "postgresql": _upsert(postgresql.insert(_CHECKPOINTS)),
}


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
        connection = unit.connection
        row = (self.job, self.venue, {"cursor": self._cursor}, None, datetime.now(UTC))
        _UPSERT[connection.dialect.name].execute(connection, [row])

    def discard(self) -> None:
        self._loaded = self._unwritten = False
