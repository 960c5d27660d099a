"""Reading the pipeline's inputs from the lake: bars (one source per symbol) and texts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from quantgate.core.enums import Bucket
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.data.schema import BARS_1H, COMMENTS, POSTS
from quantgate.features.embeddings import content_hash
from quantgate.features.series import BarSeries, TextSeries, to_micros
from quantgate.storage.lake import Lake, manifest_hash


def micros_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def datetime_to_micros(value: datetime) -> int:
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def select_sources(lake: Lake, symbols: Iterable[str], configured: str | None) -> dict[str, str]:
    """Bars source per symbol: the configured one, else the one holding the most bars."""
    wanted = sorted(set(symbols))
    lazy = lake.scan(BARS_1H.name, wanted)
    if lazy is None:
        return {}
    counts = lazy.group_by(["symbol", "source"]).agg(pl.len().alias("bars")).collect()
    chosen: dict[str, str] = {}
    for symbol in wanted:
        rows = counts.filter(pl.col("symbol") == symbol).sort(
            ["bars", "source"], descending=[True, False]
        )
        if rows.is_empty():
            continue
        sources = rows["source"].to_list()
        if configured is not None:
            if configured not in sources:
                raise ConfigurationError(
                    f"bars source {configured!r} holds no bars for {symbol} (it has {sources})",
                    field="features.bar_source",
                    fix="unset features.bar_source to use the source with the most bars",
                )
            chosen[symbol] = configured
        else:
            chosen[symbol] = str(sources[0])
    return chosen


def load_bars(lake: Lake, symbol: str, source: str, start: datetime | None = None) -> BarSeries:
    lazy = lake.scan(BARS_1H.name, [symbol], start=start)
    if lazy is None:
        return BarSeries.from_frame(symbol, source, pl.DataFrame(schema=BARS_1H.schema))
    frame = lazy.filter((pl.col("source") == source) & (pl.col("symbol") == symbol)).collect()
    if frame.is_empty():
        frame = pl.DataFrame(schema=BARS_1H.schema)
    duplicated = frame.select("ts").is_duplicated()
    if duplicated.any():
        raise DataError(
            f"{symbol}/{source}: bars_1h repeats open times",
            source=f"bars_1h/{symbol}",
            field="ts",
            fix="re-ingest the source; the lake key is (source, symbol, ts)",
        )
    return BarSeries.from_frame(symbol, source, frame)


TEXT_COLUMNS = ("text_id", "is_comment", "ts", "available_at", "author", "content")


def load_texts(
    lake: Lake, symbols: Sequence[str], available_after: datetime | None = None
) -> pl.DataFrame:
    """Posts and comments of `symbols` as one frame (symbol, text_id, is_comment, ts,
    available_at, author, content), sorted per symbol by (available_at, ts, kind, id)."""
    parts = []
    # Partitions are by publication year and a text may arrive long after it was
    # published, so every partition is scanned; the filter is on available_at.
    posts = lake.scan(POSTS.name, symbols)
    if posts is not None:
        parts.append(
            posts.select(
                "symbol",
                pl.concat_str([pl.lit("p:"), pl.col("post_id")]).alias("text_id"),
                pl.lit(False).alias("is_comment"),
                "ts",
                "available_at",
                pl.col("author").fill_null(""),
                pl.concat_str(
                    [pl.col("title").fill_null(""), pl.col("body").fill_null("")], separator="\n"
                )
                .str.strip_chars()
                .alias("content"),
            )
        )
    comments = lake.scan(COMMENTS.name, symbols)
    if comments is not None:
        parts.append(
            comments.select(
                "symbol",
                pl.concat_str([pl.lit("c:"), pl.col("comment_id")]).alias("text_id"),
                pl.lit(True).alias("is_comment"),
                "ts",
                "available_at",
                pl.col("author").fill_null(""),
                pl.col("body").fill_null("").str.strip_chars().alias("content"),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "symbol": pl.String,
                "text_id": pl.String,
                "is_comment": pl.Boolean,
                "ts": pl.Datetime("us", "UTC"),
                "available_at": pl.Datetime("us", "UTC"),
                "author": pl.String,
                "content": pl.String,
                "content_hash": pl.String,
            }
        )
    lazy = pl.concat(parts, how="vertical")
    if available_after is not None:
        lazy = lazy.filter(pl.col("available_at") > available_after)
    frame = (
        lazy.unique(["symbol", "text_id"], keep="first")
        .sort(["symbol", "available_at", "ts", "is_comment", "text_id"])
        .collect()
    )
    hashes = [content_hash(text) for text in frame["content"].to_list()]
    return frame.with_columns(pl.Series("content_hash", hashes, dtype=pl.String))


def text_series(symbol: str, frame: pl.DataFrame, embedding_rows: np.ndarray) -> TextSeries:
    """`frame`: one symbol's rows of load_texts(); `embedding_rows` aligned to them."""
    if frame.is_empty():
        return TextSeries.empty(symbol)
    author_codes = frame["author"].rank("dense").to_numpy()
    return TextSeries(
        symbol,
        to_micros(frame["ts"]),
        to_micros(frame["available_at"]),
        np.asarray(frame["is_comment"].to_numpy(), dtype=np.bool_),
        author_codes.astype(np.int64),
        tuple(frame["content_hash"].to_list()),
        np.asarray(embedding_rows, dtype=np.int64),
    )


@dataclass(frozen=True)
class SymbolMeta:
    symbol: str
    source: str
    bucket: Bucket
    in_universe: bool


def data_manifest_hash(lake: Lake, symbols: Sequence[str]) -> str:
    """Hash of every input partition (bars, posts, comments) of `symbols`."""
    manifest: dict[str, str] = {}
    for dataset in (BARS_1H.name, POSTS.name, COMMENTS.name):
        manifest.update(lake.manifest(dataset, symbols))
    return manifest_hash(manifest)


def _years(micros: np.ndarray) -> np.ndarray:
    return np.asarray(
        micros.astype("datetime64[us]").astype("datetime64[Y]").astype(np.int64) + 1970,
        dtype=np.int64,
    )


def fingerprint_bars(series: BarSeries, upto: int) -> dict[str, str]:
    """Per year of open time: sha256 of the bars known at `upto` (exact bytes)."""
    known = series.known_at(upto)
    years = _years(known.ts)
    out: dict[str, str] = {}
    for year in np.unique(years):
        mask = years == year
        digest = hashlib.sha256(series.source.encode())
        for array in (
            known.ts,
            known.available_at,
            known.open,
            known.high,
            known.low,
            known.close,
            known.volume,
        ):
            digest.update(np.ascontiguousarray(array[mask]).tobytes())
        out[str(int(year))] = digest.hexdigest()
    return out


def fingerprint_texts(texts: TextSeries, upto: int) -> dict[str, str]:
    known = texts.known_at(upto)
    years = _years(known.ts)
    out: dict[str, str] = {}
    for year in np.unique(years):
        indices = np.flatnonzero(years == year)
        digest = hashlib.sha256()
        for array in (known.ts, known.available_at, known.is_comment):
            digest.update(np.ascontiguousarray(array[indices]).tobytes())
        for i in indices:
            digest.update(known.content_hash[i].encode())
        out[str(int(year))] = digest.hexdigest()
    return out
