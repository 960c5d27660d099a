"""Column types that keep the domain's guarantees on every backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from quantgate.core.errors import ProgrammerError

_MEMO_SIZE = 4096
_UTC_TEXT: dict[datetime, str] = {}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite stores no zone, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ProgrammerError(f"refusing to store naive datetime {value.isoformat()}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite's DATETIME text in one step instead of the decorator's two (the same
        # text: "YYYY-MM-DD HH:MM:SS.ffffff"); the trading tables bind hundreds of
        # thousands of timestamps in a long backtest, most of them the same few instants
        # (an event's time, its decision time), hence a small memo shared by every column.
        memo = _UTC_TEXT

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            text = memo.get(value)
            if text is not None:
                return text
            if value.tzinfo is None:
                raise ProgrammerError(f"refusing to store naive datetime {value.isoformat()}")
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            text = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[value] = text
            return text

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
