"""A bulk statement binds a JSON column's dicts as the very text json.dumps gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, create_engine

from quantgate.storage.bulk import BulkStatement

_TABLE = Table("probe", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"horizon": "1h", "target_quantity": "12.5", "slice_index": 0, "release_at": "t"},
        {"nested": {"x": [1, 2.5, None, True]}, "text": 'é\n"q', "nan": float("nan")},
        {1: 2, 2.5: "x", None: 1, False: 0},
        [1, 2],
        None,
    ],
)
def test_json_text_is_json_dumps(doc: Any) -> None:
    engine = create_engine("sqlite://")
    _TABLE.metadata.create_all(engine)
    with engine.begin() as connection:
        BulkStatement(_TABLE.insert(), ("id", "doc"), _TABLE).execute(connection, [(1, doc)])
        stored = connection.exec_driver_sql("SELECT doc FROM probe").scalar_one()
    assert stored == json.dumps(doc)


def test_a_value_json_cannot_hold_is_refused() -> None:
    engine = create_engine("sqlite://")
    _TABLE.metadata.create_all(engine)
    with engine.begin() as connection, pytest.raises(Exception, match="not JSON serializable"):
        BulkStatement(_TABLE.insert(), ("id", "doc"), _TABLE).execute(
            connection, [(1, {"a": object()})]
        )
