"""Secondary indexes held back during a bulk load come back exactly as the migrations made
them, on SQLite and PostgreSQL; unique indexes are never held back."""

from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from quantgate.core import ProgrammerError
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.deferred_indexes import (
    PER_ORDER_TABLES,
    build_indexes,
    hold_back_indexes,
    secondary_indexes,
)


def indexes_by_table(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    inspector = inspect(engine)
    return {
        table: sorted(inspector.get_indexes(table), key=lambda index: str(index["name"]))
        for table in inspector.get_table_names()
    }


def unique_sets(engine: Engine) -> dict[str, list[Any]]:
    inspector = inspect(engine)
    return {
        table: sorted(str(c["column_names"]) for c in inspector.get_unique_constraints(table))
        for table in PER_ORDER_TABLES
    }


def test_held_back_indexes_are_built_again_as_migrated(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    migrated, uniques = indexes_by_table(engine), unique_sets(engine)
    expected = {
        "ix_orders_scope_status",
        "ix_fills_client_order_id",
        "ix_fills_scope_id",
        "ix_execution_trace_scope_filled",
        "ix_risk_gate_decisions_scope_decided",
        "ix_risk_gate_decisions_strategy",
        "ix_risk_gate_decisions_order",
        "ix_risk_reservations_scope_open",
    }
    held = hold_back_indexes(engine)
    assert set(held) == expected
    during = indexes_by_table(engine)
    left = {index["name"] for table in PER_ORDER_TABLES for index in during[table]}
    assert not left & expected
    # Other tables keep theirs, and the unique keys (a repeated fill must fail) stay.
    assert {t: i for t, i in during.items() if t not in PER_ORDER_TABLES} == {
        t: i for t, i in migrated.items() if t not in PER_ORDER_TABLES
    }
    assert unique_sets(engine) == uniques
    assert hold_back_indexes(engine) == held  # nothing left to drop: no error

    assert set(build_indexes(engine)) == expected
    assert indexes_by_table(engine) == migrated
    build_indexes(engine)  # all present: nothing created twice
    assert indexes_by_table(engine) == migrated
    engine.dispose()


def test_only_non_unique_indexes_of_known_tables() -> None:
    assert all(not index.unique for index in secondary_indexes())
    assert {index.table.name for index in secondary_indexes()} <= set(PER_ORDER_TABLES)
    with pytest.raises(ProgrammerError, match="no such tables"):
        secondary_indexes(("orders", "no_such_table"))
