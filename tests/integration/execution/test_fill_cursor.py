"""The fill cursor is one job checkpoint row, inserted once and then moved, on both backends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantgate.execution.fill_cursor import FillCursor
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.ledger import Durability, ScopeLedger
from quantgate.storage.models import JobCheckpoint


def rows(ledger: ScopeLedger) -> list[tuple[str, str, dict[str, object], str | None]]:
    with Session(ledger.engine) as session:
        found = session.scalars(select(JobCheckpoint).order_by(JobCheckpoint.id))
        return [(row.job, row.key, row.state, row.note) for row in found]


def test_the_cursor_row_is_written_then_moved(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    ledger = ScopeLedger(engine, "paper", durability=Durability.PER_UNIT)
    cursor = FillCursor("paper", "sim")
    with ledger.unit() as unit:
        assert cursor.get(unit) is None
        cursor.put(unit, "3")
    assert rows(ledger) == [("fill_cursor:paper", "sim", {"cursor": "3"}, None)]

    with ledger.unit() as unit:
        cursor.put(unit, "7")
    with ledger.unit() as unit:
        cursor.put(unit, None)
        cursor.put(unit, "9")  # only the last position of a unit is written
    assert rows(ledger) == [("fill_cursor:paper", "sim", {"cursor": "9"}, None)]

    with ledger.unit() as unit:  # a restart reads it back; another venue has its own
        assert FillCursor("paper", "sim").get(unit) == "9"
        assert FillCursor("paper", "other venue").get(unit) is None
