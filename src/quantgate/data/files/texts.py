"""Text files → posts and comments in the lake's schema (data.schema.POSTS / COMMENTS).

Each layout module turns its file into the same intermediate rows (`TEXT_ROWS`:
kind, id, post_id, parent_id, ts, author, title, body and the names that say
which symbols a text is about). This module checks them, maps names to symbols
(one output row per text and symbol) and builds the lake frames. A text that
maps to no symbol is counted and reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from quantgate.core.errors import DataError
from quantgate.data.files import text_cryptonews, text_generic, text_reddit
from quantgate.data.files.detect import detect_format
from quantgate.data.files.formats import FileFormat
from quantgate.data.files.symbols import Resolution, SymbolMap
from quantgate.data.files.tables import ROW, read_table
from quantgate.data.schema import COMMENTS, DEFAULT_TEXT_INGESTION_LATENCY, POSTS, UTC_TIME

_LAYOUTS: dict[FileFormat, Callable[[pl.DataFrame, str], pl.DataFrame]] = {
    FileFormat.TEXT: text_generic.layout_rows,
    FileFormat.REDDIT: text_reddit.layout_rows,
    FileFormat.CRYPTONEWS: text_cryptonews.layout_rows,
}


@dataclass(frozen=True, slots=True)
class UnmappedTexts:
    """Texts that name no symbol the mapping knows: how many, and which names missed."""

    posts: int = 0
    comments: int = 0
    names: dict[str, int] = field(default_factory=dict)  # name → texts carrying it unmapped

    @property
    def count(self) -> int:
        return self.posts + self.comments

    def merge(self, other: UnmappedTexts) -> UnmappedTexts:
        names = dict(self.names)
        for name, count in other.names.items():
            names[name] = names.get(name, 0) + count
        return UnmappedTexts(self.posts + other.posts, self.comments + other.comments, names)


@dataclass(frozen=True, slots=True)
class TextFile:
    """One file's posts and comments, each row's number in the file kept in `ROW`."""

    path: Path
    format: FileFormat
    texts_read: int
    post_table: pl.DataFrame
    comment_table: pl.DataFrame
    unmapped: UnmappedTexts

    @property
    def posts(self) -> pl.DataFrame:
        return self.post_table.drop(ROW)

    @property
    def comments(self) -> pl.DataFrame:
        return self.comment_table.drop(ROW)


def read_text_file(
    path: Path,
    *,
    source: str,
    fetched_at: datetime,
    symbol_map: SymbolMap,
    format: FileFormat | None = None,
    latency: timedelta = DEFAULT_TEXT_INGESTION_LATENCY,
) -> TextFile:
    """Read and validate one text file (generic, reddit export or cryptonews export)."""
    origin = str(path)
    layout = format or detect_format(path)
    if layout not in _LAYOUTS:
        raise DataError(
            f"the file is {layout.value} bars, not texts",
            source=origin,
            fix="import it as a market source, or pass the text format",
        )
    rows = _LAYOUTS[layout](read_table(path), origin)
    return _build(rows, path, layout, symbol_map, source, latency, fetched_at)


def _build(
    rows: pl.DataFrame,
    path: Path,
    layout: FileFormat,
    symbol_map: SymbolMap,
    source: str,
    latency: timedelta,
    fetched_at: datetime,
) -> TextFile:
    resolution = symbol_map.resolve(rows[ROW], rows["names"])
    found = pl.concat([resolution.symbols, _inherited(rows, resolution)], how="vertical")
    unmapped = rows.filter(~pl.col(ROW).is_in(found["row"]))
    tagged = rows.join(found.rename({"row": ROW}), on=ROW, how="inner").with_columns(
        pl.lit(source, dtype=pl.String()).alias("source"),
        (pl.col("ts") + latency).alias("available_at"),
        pl.lit(fetched_at, dtype=UTC_TIME).alias("fetched_at"),
    )
    posts = (
        tagged.filter(pl.col("kind") == "post")
        .drop("post_id")
        .rename({"id": "post_id"})
        .select([*POSTS.columns, ROW])
        .sort(["ts", "post_id", "symbol"])
    )
    comments = (
        tagged.filter(pl.col("kind") == "comment")
        .rename({"id": "comment_id"})
        .select([*COMMENTS.columns, ROW])
        .sort(["ts", "comment_id", "symbol"])
    )
    return TextFile(
        path,
        layout,
        rows.height,
        posts.cast({c: t for c, t in POSTS.schema.items()}),
        comments.cast({c: t for c, t in COMMENTS.schema.items()}),
        UnmappedTexts(
            posts=unmapped.filter(pl.col("kind") == "post").height,
            comments=unmapped.filter(pl.col("kind") == "comment").height,
            names=resolution.unmapped_names,
        ),
    )


def _inherited(rows: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """Symbols a comment takes from its post when it names none itself.

    A reply under a post about BTCUSDT is about BTCUSDT too; without this, most
    comments in a generic file (which rarely tag symbols) would count as unmapped.
    """
    post_rows = rows.filter(pl.col("kind") == "post").select(
        pl.col(ROW).alias("post_row"), pl.col("id").alias("post_id")
    )
    return (
        rows.filter((pl.col("kind") == "comment") & pl.col(ROW).is_in(resolution.unmapped_rows))
        .select(pl.col(ROW).alias("row"), "post_id")
        .join(post_rows, on="post_id", how="inner")
        .join(resolution.symbols.rename({"row": "post_row"}), on="post_row", how="inner")
        .select("row", "symbol")
    )
