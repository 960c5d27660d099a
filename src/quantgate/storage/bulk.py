"""Batched writes on the hot paths: a statement compiled once, rows bound as plain tuples.

`connection.execute(insert, list_of_dicts)` re-derives the parameter layout and runs
the column types' bind processors through SQLAlchemy's generic machinery for every
row: in a long backtest that cost more than SQLite's own work on the same rows. A
`BulkStatement` compiles its statement once per dialect, keeps each column's bind
processor (the same functions SQLAlchemy would call, so the stored text is the same)
and hands the driver ready rows in one `executemany`.

Rows are tuples in the order of `keys`: column names for an INSERT, bind parameter
names for an UPDATE's SET and WHERE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import JSON, Connection, Insert, Table, Update
from sqlalchemy.engine import Dialect

from quantgate.core.errors import ProgrammerError

Processor = Callable[[Any], Any]
Converter = Callable[[Sequence[Any]], Sequence[Any]]


class BulkStatement:
    def __init__(
        self,
        statement: Insert | Update,
        keys: Sequence[str],
        types_from: Table,
        *,
        type_of: dict[str, str] | None = None,
    ) -> None:
        """`type_of` maps a bind name that is not a column name to the column whose type it
        binds (e.g. an UPDATE's `b_status` → `status`)."""
        self.statement = statement
        self.keys = tuple(keys)
        self._table = types_from
        self._type_of = dict(type_of or {})
        self._compiled: dict[str, tuple[str, Converter, tuple[str, ...] | None]] = {}

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Bind and run the rows in one executemany; returns the driver's row count."""
        if not rows:
            return 0
        sql, convert, named = self._for(connection.dialect)
        if named is None:
            bound: list[Any] = [convert(row) for row in rows]
        else:
            bound = [dict(zip(named, convert(row), strict=True)) for row in rows]
        return int(connection.exec_driver_sql(sql, bound).rowcount)

    def _for(self, dialect: Dialect) -> tuple[str, Converter, tuple[str, ...] | None]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> tuple[str, Converter, tuple[str, ...] | None]:
        compiled = self.statement.compile(
            dialect=dialect, column_keys=[k for k in self.keys if k in self._table.c]
        )
        order = compiled.positiontup
        names = tuple(order) if order is not None else tuple(compiled.binds)
        unknown = [name for name in names if name not in self.keys]
        if unknown:
            raise ProgrammerError(f"{self._table.name}: parameters {unknown} have no value")
        processors = [self._processor(name, dialect) for name in names]
        positions = [self.keys.index(name) for name in names]
        convert = _converter(positions, processors)
        return str(compiled), convert, None if order is not None else names

    def _processor(self, name: str, dialect: Dialect) -> Processor | None:
        column = self._table.c[self._type_of.get(name, name)]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None and _plain_json(column.type, dialect):
            return _json_processor(processor)
        return processor


def _plain_json(type_: Any, dialect: Dialect) -> bool:
    """Whether the column binds `json.dumps(value)` unchanged: a JSON column on a dialect
    without its own serializer that stores the text as it is (SQLite)."""
    return (
        isinstance(type_, JSON)
        and dialect.name == "sqlite"
        and getattr(dialect, "_json_serializer", None) is None
    )


# json.dumps with its default settings builds a new C encoder for every call, which costs
# more than encoding the small dicts of the trading tables (an order's intent, a risk
# decision's figures): one encoder made once gives the same text in half the time. Without
# circular-reference markers (check_circular=False), so no state is kept between calls;
# our rows hold no cycles.
_ENCODE = c_make_encoder(
    None,
    json.JSONEncoder().default,  # the same TypeError for a value JSON cannot hold
    encode_basestring_ascii,
    None,  # indent
    ": ",
    ", ",
    False,  # sort_keys
    False,  # skipkeys
    True,  # allow_nan
)


def _json_processor(generic: Processor) -> Processor:
    """`generic` (SQLAlchemy's JSON processor) for anything but a dict, whose text the
    prebuilt encoder gives: the same as json.dumps."""

    def process(value: Any) -> Any:
        if value.__class__ is dict:
            return "".join(_ENCODE(value, 0))
        return generic(value)

    return process


def _converter(positions: Sequence[int], processors: Sequence[Processor | None]) -> Converter:
    """One function per statement that reorders a row and applies the processors: a
    generated tuple expression, because a generic loop per value costs about as much
    as the insert itself."""
    namespace: dict[str, Any] = {}
    parts = []
    for slot, (position, processor) in enumerate(zip(positions, processors, strict=True)):
        if processor is None:
            parts.append(f"row[{position}]")
        else:
            namespace[f"p{slot}"] = processor
            parts.append(f"p{slot}(row[{position}])")
    source = f"def convert(row):\n    return ({', '.join(parts)},)\n"
    exec(compile(source, "<bulk converter>", "exec"), namespace)
    convert: Converter = namespace["convert"]
    return convert
