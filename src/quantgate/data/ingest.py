"""Write source frames into the lake: conform to the dataset schema, then upsert by key."""

from __future__ import annotations

import polars as pl

from quantgate.data.schema import (
    BOOKS,
    COMMENTS,
    DATASETS,
    POSTS,
    Dataset,
    bars_dataset_name,
    conform,
)
from quantgate.storage.lake import Lake, UpsertResult


def ingest(lake: Lake, dataset: Dataset, frame: pl.DataFrame, *, origin: str) -> UpsertResult:
    """Idempotent: writing the same rows twice leaves the lake unchanged."""
    if frame.is_empty():
        return UpsertResult(0, 0, 0, 0)
    conformed = conform(frame, dataset, origin=origin)
    # A re-fetch of identical data is unchanged: provenance keeps the first fetch time.
    return lake.upsert(
        dataset.name, conformed, key=dataset.key, ignore_in_comparison=("fetched_at",)
    )


def ingest_bars(
    lake: Lake, frame: pl.DataFrame, *, timeframe: str = "1h", origin: str
) -> UpsertResult:
    return ingest(lake, DATASETS[bars_dataset_name(timeframe)], frame, origin=origin)


def ingest_posts(lake: Lake, frame: pl.DataFrame, *, origin: str) -> UpsertResult:
    return ingest(lake, POSTS, frame, origin=origin)


def ingest_comments(lake: Lake, frame: pl.DataFrame, *, origin: str) -> UpsertResult:
    return ingest(lake, COMMENTS, frame, origin=origin)


def ingest_books(lake: Lake, frame: pl.DataFrame, *, origin: str) -> UpsertResult:
    return ingest(lake, BOOKS, frame, origin=origin)
