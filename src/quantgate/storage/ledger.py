"""Units of work on one trading scope: one transaction for the rows that belong together.

The order gateway and the risk gate of a scope share a `ScopeLedger`. An order's outbox
row, its risk decision and its reservation are written in one unit; a reconciliation's
fills, trace rows, order updates and released reservations in another. (A transaction
per row cost a few milliseconds per order.)

A unit holds the scope's write lock from its first statement to its end — BEGIN
IMMEDIATE on SQLite (one writer per database), the scope's lock row FOR UPDATE on
PostgreSQL (one writer per scope) — so check-and-reserve stays atomic across threads
and processes. Units nest: a unit opened by a thread that has one open joins it.

Writers keep what they read in memory (open orders, reservations, recent decisions) and
queue their row writes; a flush executes each writer's queue as one executemany per
statement. Every cache has a version in the scope's lock row: a transaction that changed
a cache's rows bumps its version as it commits. A cache stamped with another version
than the row's was changed by someone else (another process, or a transaction that
rolled back) and reloads before it is used.

Durability:

- `PER_UNIT` (paper, live): the outermost unit flushes and commits as it ends, so what
  it wrote is durable before the caller goes on (e.g. sends the orders it persisted).
- `AT_COMMIT` (backtests): units follow each other in one transaction. What a unit
  executes is in that transaction at once; queued rows follow at the latest on
  `commit()`. A backtest recovers from the copy of its database in its checkpoint and
  commits just before taking one, so committing more often would buy nothing. The
  transaction belongs to the thread that began it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection, CursorResult, Engine, Executable, Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from quantgate.core.errors import ProgrammerError
from quantgate.storage.models import Base, RiskStateRow

LOCK_KIND = "lock"
SCOPE_KEY = ""  # the key of scope-wide state rows

# Queued rows that make an AT_COMMIT unit flush as it ends: memory stays bounded while
# executemany batches stay large.
FLUSH_ROWS = 2_000


def table_of(model: type[Base]) -> Table:
    """The model's Table, for Core statements (executemany) on the hot paths."""
    table = model.__table__
    if not isinstance(table, Table):
        raise ProgrammerError(f"{model.__name__} is not mapped to a table")
    return table


_STATE = table_of(RiskStateRow)


class Durability(StrEnum):
    PER_UNIT = "per_unit"
    AT_COMMIT = "at_commit"


class Writer(Protocol):
    def flush(self, unit: UnitOfWork) -> None:
        """Execute the queued writes through `unit.connection`."""

    def discard(self) -> None:
        """The transaction rolled back: forget the queued writes and reload the cache."""


class UnitOfWork:
    """The open transaction: its connection, the cache versions and the queued writers."""

    def __init__(self, connection: Connection, versions: Mapping[str, int]) -> None:
        self.connection = connection
        self._versions = {name: int(number) for name, number in versions.items()}
        self._bumped: set[str] = set()
        self._writers: dict[int, Writer] = {}
        self._queued = 0
        self._after: list[Callable[[], None]] = []

    @property
    def postgres(self) -> bool:
        return self.connection.dialect.name == "postgresql"

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def bumped(self) -> bool:
        return bool(self._bumped)

    def versions(self) -> dict[str, int]:
        return dict(self._versions)

    def version(self, cache: str) -> int:
        """The version `cache` has in this transaction (bumped once it changed here)."""
        return self._versions.get(cache, 0)

    def bump(self, cache: str) -> int:
        """`cache` changes in this transaction; returns the version it commits with."""
        if cache not in self._bumped:
            self._bumped.add(cache)
            self._versions[cache] = self._versions.get(cache, 0) + 1
        return self._versions[cache]

    def enlist(self, writer: Writer, rows: int = 0) -> None:
        """`writer` changed its cache (and queued `rows`): flush it, or tell it of a rollback."""
        self._writers.setdefault(id(writer), writer)
        self._queued += rows

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """Run a statement now, after the queued writes (a read sees this unit's writes)."""
        self.flush()
        return self.connection.execute(statement, parameters)

    def flush(self) -> None:
        writers = list(self._writers.values())
        self._queued = 0
        for writer in writers:
            writer.flush(self)

    def after_unit(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the outermost unit has ended (committed, for PER_UNIT)."""
        self._after.append(callback)

    def _take_after(self) -> list[Callable[[], None]]:
        callbacks = self._after
        if callbacks:
            self._after = []
        return callbacks

    def _discard(self) -> None:
        writers = list(self._writers.values())
        self._writers.clear()
        self._queued = 0
        self._after.clear()
        for writer in writers:
            writer.discard()


class ScopeLedger:
    def __init__(
        self, engine: Engine, scope: str, *, durability: Durability = Durability.PER_UNIT
    ) -> None:
        self.engine = engine
        self.scope = scope
        self.durability = durability
        self._postgres = engine.dialect.name == "postgresql"
        # Re-entrant: a unit opened inside a unit on the same thread joins it.
        self._lock = threading.RLock()
        self._unit: UnitOfWork | None = None
        self._owner: int | None = None
        self._depth = 0
        self._broken: str | None = None
        self._scope = UnitScope(self)
        self._ensure_lock_row()

    def unit(self) -> UnitScope:
        """`with ledger.unit() as unit:` joins the unit this thread has open, or begins one."""
        return self._scope

    def commit(self) -> None:
        """Flush and commit the open transaction (nothing to do when none is open)."""
        with self._lock:
            if self._depth:
                raise ProgrammerError("commit() inside a unit of work")
            unit = self._unit
            if unit is None:
                return
            self._check_owner()
            try:
                self._commit(unit)
            except BaseException:
                self._rollback(unit)
                raise

    # -- the transaction --------------------------------------------------------------------

    def _current(self) -> UnitOfWork:
        if self._unit is None:
            raise ProgrammerError("no unit of work is open")
        return self._unit

    def _begin(self) -> UnitOfWork:
        if self._broken is not None:
            raise ProgrammerError(
                f"scope {self.scope}: the transaction was rolled back ({self._broken}); "
                "resume from the last checkpoint"
            )
        connection = self.engine.connect()
        try:
            if not self._postgres:
                # pysqlite begins DEFERRED; a read that later writes after another
                # connection committed would fail at once (SQLITE_BUSY_SNAPSHOT).
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            query = select(_STATE.c.value).where(*_lock_row(self.scope))
            if self._postgres:
                query = query.with_for_update()
            versions = connection.execute(query).scalar_one()
        except BaseException:
            connection.close()
            raise
        unit = UnitOfWork(connection, versions or {})
        self._unit, self._owner = unit, threading.get_ident()
        return unit

    def _end_unit(self, unit: UnitOfWork) -> None:
        if self.durability is Durability.PER_UNIT:
            self._commit(unit)
        elif unit.queued >= FLUSH_ROWS:
            unit.flush()

    def _commit(self, unit: UnitOfWork) -> None:
        unit.flush()
        if unit.bumped:
            unit.connection.execute(
                update(_STATE)
                .where(*_lock_row(self.scope))
                .values(value=unit.versions(), updated_at=datetime.now(UTC))
            )
        unit.connection.commit()
        unit.connection.close()
        self._unit = self._owner = None

    def _rollback(self, unit: UnitOfWork) -> None:
        self._unit = self._owner = None
        try:
            unit.connection.rollback()
            unit.connection.close()
        finally:
            unit._discard()
            if self.durability is Durability.AT_COMMIT:
                self._broken = "an error inside a unit of work"

    def _check_owner(self) -> None:
        if self._owner is not None and self._owner != threading.get_ident():
            raise ProgrammerError(
                f"scope {self.scope}: an AT_COMMIT transaction belongs to the thread that began it"
            )

    def _ensure_lock_row(self) -> None:
        row = {
            "scope": self.scope,
            "kind": LOCK_KIND,
            "key": SCOPE_KEY,
            "active": False,
            "value": {},
            "reason": None,
            "actor": None,
            "updated_at": datetime.now(UTC),
        }
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, _STATE), [row])


class UnitScope:
    """The `with` block of a unit of work (a class, not a generator: it is entered for
    every order and every fill). One per ledger, entered again and again: it keeps no
    state of its own, the ledger's depth tells the outermost block from a nested one."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: ScopeLedger) -> None:
        self._ledger = ledger

    def __enter__(self) -> UnitOfWork:
        ledger = self._ledger
        ledger._lock.acquire()
        try:
            if ledger._depth:
                ledger._depth += 1
                return ledger._current()
            if ledger._unit is not None:
                ledger._check_owner()
            unit = ledger._unit if ledger._unit is not None else ledger._begin()
        except BaseException:
            ledger._lock.release()
            raise
        ledger._depth = 1
        return unit

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        ledger, unit = self._ledger, self._ledger._unit
        if ledger._depth > 1 or unit is None:
            ledger._depth -= 1
            ledger._lock.release()
            return
        callbacks: list[Callable[[], None]] = []
        try:
            if kind is not None:
                ledger._rollback(unit)
            else:
                try:
                    ledger._end_unit(unit)
                except BaseException:
                    ledger._rollback(unit)
                    raise
                callbacks = unit._take_after()
        finally:
            ledger._depth = 0
            ledger._lock.release()
        for callback in callbacks:
            callback()


def _lock_row(scope: str) -> tuple[Any, ...]:
    return (_STATE.c.scope == scope, _STATE.c.kind == LOCK_KIND, _STATE.c.key == SCOPE_KEY)


def dialect_insert(connection: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say what to do on a conflict (both backends speak ON CONFLICT)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """Rows whose unique key is taken are skipped (the row count says how many were not)."""
    return _ignoring(connection.dialect.name, table)


@cache
def _ignoring(dialect: str, table: Table) -> Insert:
    # Built once: constructing the statement costs more than executing a small batch.
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing()
