"""The lake's datasets: names, columns, keys, and the frame checks every writer goes through.

Every row carries `ts` (event time; a bar's open time, a text's publication
time) and `available_at` (the first moment the system could have known it), plus
provenance: `source` and `fetched_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from quantgate.core.errors import DataError

UTC_TIME = pl.Datetime("us", "UTC")

BAR_TIMEFRAMES: dict[str, timedelta] = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
# A bar is published shortly after it closes; features may only see it from then on.
DEFAULT_BAR_PUBLICATION_LATENCY = timedelta(seconds=5)
# A post or comment reaches us some time after it is published.
DEFAULT_TEXT_INGESTION_LATENCY = timedelta(minutes=1)
BOOK_LEVELS = 10


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    schema: dict[str, pl.DataType]
    key: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(self.schema)


def bars_dataset_name(timeframe: str) -> str:
    if timeframe not in BAR_TIMEFRAMES:
        raise DataError(
            f"unknown bar timeframe {timeframe!r}",
            field="timeframe",
            fix=f"use one of {sorted(BAR_TIMEFRAMES)}",
        )
    return f"bars_{timeframe}"


BAR_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "symbol": pl.String(),
    "ts": UTC_TIME,
    "available_at": UTC_TIME,
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "fetched_at": UTC_TIME,
}
BARS_1H = Dataset("bars_1h", BAR_SCHEMA, ("source", "symbol", "ts"))
BARS_1M = Dataset("bars_1m", BAR_SCHEMA, ("source", "symbol", "ts"))

# One row per (text, symbol it is about): per-symbol reads need no list filtering.
POSTS = Dataset(
    "posts",
    {
        "post_id": pl.String(),
        "source": pl.String(),
        "symbol": pl.String(),
        "author": pl.String(),
        "ts": UTC_TIME,  # published_at
        "available_at": UTC_TIME,
        "title": pl.String(),
        "body": pl.String(),
        "fetched_at": UTC_TIME,
    },
    ("post_id", "symbol"),
)
COMMENTS = Dataset(
    "comments",
    {
        "comment_id": pl.String(),
        "post_id": pl.String(),
        "parent_id": pl.String(),
        "source": pl.String(),
        "symbol": pl.String(),
        "author": pl.String(),
        "ts": UTC_TIME,  # published_at
        "available_at": UTC_TIME,
        "body": pl.String(),
        "fetched_at": UTC_TIME,
    },
    ("comment_id", "symbol"),
)


def _book_columns() -> dict[str, pl.DataType]:
    columns: dict[str, pl.DataType] = {
        "source": pl.String(),
        "symbol": pl.String(),
        "ts": UTC_TIME,
        "available_at": UTC_TIME,
    }
    for side in ("bid", "ask"):
        for level in range(1, BOOK_LEVELS + 1):
            columns[f"{side}_px_{level}"] = pl.Float64()
            columns[f"{side}_sz_{level}"] = pl.Float64()
    columns["fetched_at"] = UTC_TIME
    return columns


BOOKS = Dataset("books", _book_columns(), ("source", "symbol", "ts"))

DATASETS = {d.name: d for d in (BARS_1H, BARS_1M, POSTS, COMMENTS, BOOKS)}


def conform(frame: pl.DataFrame, dataset: Dataset, *, origin: str) -> pl.DataFrame:
    """Return `frame` with exactly the dataset's columns and types, or raise naming the column.

    Casting is strict: a value that does not fit its type is an error, never a null.
    """
    missing = [c for c in dataset.columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{dataset.name} rows lack columns {missing}",
            source=origin,
            field=missing[0],
            fix=f"provide columns {dataset.columns}",
        )
    try:
        conformed = frame.select(
            [pl.col(c).cast(t, strict=True) for c, t in dataset.schema.items()]
        )
    except pl.exceptions.PolarsError as error:
        raise DataError(
            f"{dataset.name} rows do not fit the schema ({error})",
            source=origin,
            fix="correct the column types",
        ) from None
    key_nulls = [c for c in (*dataset.key, "ts", "available_at") if conformed[c].null_count()]
    if key_nulls:
        row = int(conformed[key_nulls[0]].is_null().arg_true()[0])
        raise DataError(
            "value is missing", source=origin, row=row, field=key_nulls[0], fix="fill the value"
        )
    early = conformed["available_at"] < conformed["ts"]
    if early.any():
        row = int(early.arg_true()[0])
        raise DataError(
            "available_at is before ts (the row would be known before it happened)",
            source=origin,
            row=row,
            field="available_at",
            fix="compute available_at as ts plus the publication latency",
        )
    return conformed
