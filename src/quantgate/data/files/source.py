"""File-backed market and text sources: a file or a folder of files behind the source interface.

A source is rebuilt from its `spec` (kind "files", name, absolute path, format,
plus any option that changes what it serves), so remediation can reread the
files that own a series. Files are parsed on first use and kept while they do
not change on disk; each file is validated whole before any of it is served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from quantgate.core.clock import ensure_utc
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.data.files.bars import BarFile, bar_file_symbol, check_symbol, read_bar_file
from quantgate.data.files.cache import ParsedFiles
from quantgate.data.files.formats import FileFormat, parse_format
from quantgate.data.files.merge import merge_files
from quantgate.data.files.naming import stem_of
from quantgate.data.files.symbols import SymbolMap
from quantgate.data.files.tables import data_files
from quantgate.data.files.texts import TextFile, UnmappedTexts, read_text_file
from quantgate.data.files.timeparse import parse_timeframe
from quantgate.data.schema import (
    BAR_SCHEMA,
    COMMENTS,
    DEFAULT_BAR_PUBLICATION_LATENCY,
    DEFAULT_TEXT_INGESTION_LATENCY,
    POSTS,
)
from quantgate.data.sources.base import MarketSource, SourceCoverage, TextSource

SPEC_KIND = "files"
_DAY = timedelta(days=1)


def default_source_name(path: Path) -> str:
    """`files:<folder name>` or `files:<file stem>`: stable for the same data wherever it lives."""
    return f"{SPEC_KIND}:{path.name if path.is_dir() else stem_of(path)}"


def _resolve(path: Path | str) -> Path:
    return Path(path).expanduser().resolve()


def _latency_spec(latency: timedelta, default: timedelta) -> dict[str, Any]:
    return {} if latency == default else {"latency_seconds": latency.total_seconds()}


def _spec_latency(spec: Mapping[str, Any], default: timedelta) -> timedelta:
    seconds = spec.get("latency_seconds")
    return default if seconds is None else timedelta(seconds=float(seconds))


def _check_spec(spec: Mapping[str, Any]) -> Path:
    if spec.get("kind") != SPEC_KIND or not spec.get("path"):
        raise ConfigurationError(
            f"not a files source spec: {dict(spec)}",
            field="spec",
            fix=f"a files spec has kind={SPEC_KIND!r} and an absolute path",
        )
    return Path(str(spec["path"]))


def _window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    start, end = ensure_utc(start, name="start"), ensure_utc(end, name="end")
    return frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))


class FileMarketSource(MarketSource):
    """Bars from OHLCV files: generic CSV/JSON/Parquet/Feather, Binance klines, freqtrade."""

    def __init__(
        self,
        path: Path | str,
        *,
        format: str | FileFormat | None = None,
        symbol: str | None = None,
        name: str | None = None,
        timeframe: str | None = None,
        latency: timedelta = DEFAULT_BAR_PUBLICATION_LATENCY,
        fetched_at: datetime | None = None,
    ) -> None:
        self.path = _resolve(path)
        self.format = parse_format(format)
        if self.format is not None and not self.format.is_market:
            raise ConfigurationError(
                f"format {self.format.value} holds texts, not bars",
                field="format",
                fix="use FileTextSource for text files",
            )
        self.symbol = check_symbol(symbol) if symbol is not None else None
        self.timeframe = _timeframe_option(timeframe)
        self.latency = latency
        self.name = name or default_source_name(self.path)
        # None: stamp each file with the moment it is parsed.
        self.fetched_at = ensure_utc(fetched_at, name="fetched_at") if fetched_at else None
        self._files: ParsedFiles[BarFile] = ParsedFiles(self._parse)
        self._index: dict[str, list[Path]] | None = None

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "kind": SPEC_KIND,
            "name": self.name,
            "path": str(self.path),
            "format": self.format.value if self.format else None,
        }
        if self.symbol is not None:
            spec["symbol"] = self.symbol
        if self.timeframe is not None:
            spec["timeframe"] = self.timeframe
        return spec | _latency_spec(self.latency, DEFAULT_BAR_PUBLICATION_LATENCY)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FileMarketSource:
        return cls(
            _check_spec(spec),
            format=spec.get("format"),
            symbol=spec.get("symbol"),
            name=spec.get("name"),
            timeframe=spec.get("timeframe"),
            latency=_spec_latency(spec, DEFAULT_BAR_PUBLICATION_LATENCY),
        )

    def files(self) -> list[Path]:
        return [path for paths in self._symbol_index().values() for path in paths]

    def symbols(self) -> list[str]:
        return sorted(self._symbol_index())

    def bar_files(self, symbol: str) -> list[BarFile]:
        """Every file of `symbol`, parsed and validated (cached while unchanged on disk)."""
        return self._files.get_all(self._paths_of(symbol))

    def load_all(self) -> list[BarFile]:
        """Parse and validate every file (in parallel); raises on the first bad one."""
        return self._files.get_all(self.files())

    def timeframes(self, symbol: str) -> list[str]:
        return sorted({f.timeframe.label for f in self.bar_files(symbol)}, key=_period_of)

    def bars(self, symbol: str, timeframe: str | None = None) -> pl.DataFrame:
        """All bars of `symbol` in BAR_SCHEMA, sorted by time, across its files."""
        files = self.bar_files(symbol)
        held = sorted({f.timeframe.label for f in files}, key=_period_of)
        if timeframe is None:
            if len(held) > 1:
                raise ConfigurationError(
                    f"source {self.name} holds {held} bars for {symbol}",
                    field="timeframe",
                    fix="name the timeframe you want",
                )
            timeframe = held[0]
        chosen = [f for f in files if f.timeframe.label == timeframe]
        if not chosen:
            raise ConfigurationError(
                f"source {self.name} holds {held} bars for {symbol}, not {timeframe}",
                field="timeframe",
                fix=f"ask for one of {held}",
            )
        return merge_files(
            [(f.path, f.table) for f in chosen], key=["ts"], sort=["ts"], what=f"{symbol} bar"
        ).select(list(BAR_SCHEMA))

    def coverage(self, symbol: str) -> SourceCoverage:
        """First bar to the end of the last bar, over every timeframe the files hold."""
        spans: list[tuple[datetime, datetime]] = []
        for file in self.bar_files(symbol):
            if not file.table.is_empty():
                first, last = file.table["ts"].min(), file.table["ts"].max()
                assert isinstance(first, datetime) and isinstance(last, datetime)
                spans.append((first, last + file.timeframe.period))
        if not spans:
            raise DataError(f"the files hold no bars for {symbol}", source=str(self.path))
        return SourceCoverage(symbol, min(s for s, _ in spans), max(e for _, e in spans))

    def fetch_bars(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> pl.DataFrame:
        """Bars with start <= ts < end; an empty frame means the files have none there."""
        return _window(self.bars(symbol, timeframe), start, end)

    def _symbol_index(self) -> dict[str, list[Path]]:
        # Symbols come from file names (or the override), so listing them parses nothing.
        if self._index is None:
            index: dict[str, list[Path]] = {}
            for path in data_files(self.path):
                index.setdefault(bar_file_symbol(path, self.symbol), []).append(path)
            self._index = index
        return self._index

    def _paths_of(self, symbol: str) -> list[Path]:
        index = self._symbol_index()
        if symbol not in index:
            raise ConfigurationError(
                f"source {self.name} has no bars for {symbol}",
                field="symbol",
                fix=f"ask for one of {sorted(index)}",
            )
        return index[symbol]

    def _parse(self, path: Path) -> BarFile:
        return read_bar_file(
            path,
            source=self.name,
            fetched_at=self.fetched_at or datetime.now(UTC),
            format=self.format,
            symbol=self.symbol,
            timeframe=self.timeframe,
            latency=self.latency,
        )


def _timeframe_option(label: str | None) -> str | None:
    if label is None:
        return None
    try:
        return parse_timeframe(label).label
    except DataError as error:
        raise ConfigurationError(error.message, field="timeframe", fix=error.fix) from None


def _period_of(label: str) -> timedelta:
    return parse_timeframe(label).period


class FileTextSource(TextSource):
    """Posts and comments from text files: generic CSV/JSONL, reddit and news exports."""

    def __init__(
        self,
        path: Path | str,
        *,
        format: str | FileFormat | None = None,
        symbol_map: SymbolMap | Mapping[str, Sequence[str] | str] | None = None,
        name: str | None = None,
        latency: timedelta = DEFAULT_TEXT_INGESTION_LATENCY,
        fetched_at: datetime | None = None,
    ) -> None:
        self.path = _resolve(path)
        self.format = parse_format(format)
        if self.format is not None and self.format.is_market:
            raise ConfigurationError(
                f"format {self.format.value} holds bars, not texts",
                field="format",
                fix="use FileMarketSource for bar files",
            )
        self.symbol_map = symbol_map if isinstance(symbol_map, SymbolMap) else SymbolMap(symbol_map)
        self.latency = latency
        self.name = name or default_source_name(self.path)
        self.fetched_at = ensure_utc(fetched_at, name="fetched_at") if fetched_at else None
        self._files: ParsedFiles[TextFile] = ParsedFiles(self._parse)
        self._merged: tuple[list[int], pl.DataFrame, pl.DataFrame] | None = None

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "kind": SPEC_KIND,
            "name": self.name,
            "path": str(self.path),
            "format": self.format.value if self.format else None,
        }
        if not self.symbol_map.is_default:
            spec["symbol_map"] = self.symbol_map.to_json()
        return spec | _latency_spec(self.latency, DEFAULT_TEXT_INGESTION_LATENCY)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FileTextSource:
        return cls(
            _check_spec(spec),
            format=spec.get("format"),
            symbol_map=spec.get("symbol_map"),
            name=spec.get("name"),
            latency=_spec_latency(spec, DEFAULT_TEXT_INGESTION_LATENCY),
        )

    def files(self) -> list[Path]:
        return data_files(self.path)

    def text_files(self) -> list[TextFile]:
        """Every file parsed and validated (in parallel; cached while unchanged on disk)."""
        return self._files.get_all(self.files())

    def posts(self, symbol: str | None = None) -> pl.DataFrame:
        posts = self._all()[0]
        return posts if symbol is None else posts.filter(pl.col("symbol") == symbol)

    def comments(self, symbol: str | None = None) -> pl.DataFrame:
        comments = self._all()[1]
        return comments if symbol is None else comments.filter(pl.col("symbol") == symbol)

    def unmapped(self) -> UnmappedTexts:
        total = UnmappedTexts()
        for file in self.text_files():
            total = total.merge(file.unmapped)
        return total

    def texts_read(self) -> int:
        return sum(file.texts_read for file in self.text_files())

    def symbols(self) -> list[str]:
        posts, comments = self._all()
        return sorted(set(posts["symbol"].unique()) | set(comments["symbol"].unique()))

    def coverage(self, symbol: str) -> SourceCoverage:
        """From the first text's day to the day after the last text's day."""
        times = pl.concat([self.posts(symbol)["ts"], self.comments(symbol)["ts"]])
        if times.is_empty():
            raise ConfigurationError(
                f"source {self.name} has no texts about {symbol}",
                field="symbol",
                fix=f"ask for one of {self.symbols()}",
            )
        first, last = times.dt.truncate("1d").min(), times.dt.truncate("1d").max()
        assert isinstance(first, datetime) and isinstance(last, datetime)
        return SourceCoverage(symbol, first, last + _DAY)

    def fetch_posts(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        return _window(self.posts(symbol), start, end)

    def fetch_comments(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        return _window(self.comments(symbol), start, end)

    def _all(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        files = self.text_files()
        identity = [id(file) for file in files]
        if self._merged is None or self._merged[0] != identity:
            posts = merge_files(
                [(f.path, f.post_table) for f in files],
                key=POSTS.key,
                sort=["ts", *POSTS.key],
                what="post",
            )
            comments = merge_files(
                [(f.path, f.comment_table) for f in files],
                key=COMMENTS.key,
                sort=["ts", *COMMENTS.key],
                what="comment",
            )
            self._merged = (identity, posts, comments)
        return self._merged[1], self._merged[2]

    def _parse(self, path: Path) -> TextFile:
        return read_text_file(
            path,
            source=self.name,
            fetched_at=self.fetched_at or datetime.now(UTC),
            symbol_map=self.symbol_map,
            format=self.format,
            latency=self.latency,
        )
