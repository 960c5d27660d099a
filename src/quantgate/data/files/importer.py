"""Import a file or folder into the lake: validate everything first, then write.

Nothing is written until every file has been parsed and every frame checked
against its dataset schema, so a bad row anywhere means the lake is untouched.
Writes go through data.ingest (conform + upsert by key, idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from quantgate.core.clock import ensure_utc
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.data.files.detect import detect_format
from quantgate.data.files.formats import FileFormat, parse_format
from quantgate.data.files.source import FileMarketSource, FileTextSource
from quantgate.data.files.symbols import SymbolMap
from quantgate.data.files.tables import data_files
from quantgate.data.files.texts import UnmappedTexts
from quantgate.data.ingest import ingest_bars, ingest_comments, ingest_posts
from quantgate.data.schema import (
    BAR_TIMEFRAMES,
    COMMENTS,
    DATASETS,
    DEFAULT_BAR_PUBLICATION_LATENCY,
    DEFAULT_TEXT_INGESTION_LATENCY,
    POSTS,
    bars_dataset_name,
    conform,
)
from quantgate.storage.lake import Lake, UpsertResult

# (what is happening, steps done, steps in total): lets the CLI drive a progress bar.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Rows of one dataset and symbol: read from the files, then how the lake took them."""

    dataset: str
    symbol: str
    read: int
    inserted: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "symbol": self.symbol,
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str  # "market" or "text"
    source_spec: dict[str, Any]
    files: tuple[str, ...]
    counts: tuple[ImportCounts, ...]
    texts_read: int = 0  # text rows in the files, before mapping them to symbols
    unmapped: UnmappedTexts = field(default_factory=UnmappedTexts)

    def totals(self) -> dict[str, ImportCounts]:
        """Counts summed over symbols, per dataset."""
        sums: dict[str, ImportCounts] = {}
        for c in self.counts:
            s = sums.get(c.dataset, ImportCounts(c.dataset, "*", 0, 0, 0, 0))
            sums[c.dataset] = ImportCounts(
                c.dataset,
                "*",
                s.read + c.read,
                s.inserted + c.inserted,
                s.updated + c.updated,
                s.unchanged + c.unchanged,
            )
        return sums

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source_spec,
            "files": list(self.files),
            "totals": {name: c.to_dict() for name, c in self.totals().items()},
            "counts": [c.to_dict() for c in self.counts],
            "texts_read": self.texts_read,
            "unmapped_texts": {
                "count": self.unmapped.count,
                "posts": self.unmapped.posts,
                "comments": self.unmapped.comments,
                "names": dict(self.unmapped.names),
            },
        }


@dataclass(frozen=True, slots=True)
class _Write:
    dataset: str
    symbol: str
    frame: pl.DataFrame


def import_path(
    lake: Lake,
    path: Path | str,
    format: str | FileFormat | None = None,
    symbol: str | None = None,
    source_name: str | None = None,
    *,
    timeframe: str | None = None,
    symbol_map: SymbolMap | Mapping[str, Sequence[str] | str] | None = None,
    latency: timedelta | None = None,
    fetched_at: datetime | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Read, validate and write a file or folder of bars or texts; see the module docstring.

    Raises DataError (file, row, field) for malformed input, with the lake untouched.
    """
    chosen = parse_format(format)
    stamp = ensure_utc(fetched_at, name="fetched_at") if fetched_at else datetime.now(UTC)
    report = progress or (lambda _message, _done, _total: None)
    if _is_market(Path(path).expanduser().resolve(), chosen):
        if symbol_map is not None:
            raise ConfigurationError(
                "a symbol map applies to text files, not bars", field="symbol_map"
            )
        market = FileMarketSource(
            path,
            format=chosen,
            symbol=symbol,
            name=source_name,
            timeframe=timeframe,
            latency=latency if latency is not None else DEFAULT_BAR_PUBLICATION_LATENCY,
            fetched_at=stamp,
        )
        report("reading bar files", 0, 1)
        writes = _market_writes(market)
        return _write(lake, "market", market.spec, market.files(), writes, report)
    if symbol is not None or timeframe is not None:
        raise ConfigurationError(
            "symbol and timeframe apply to bar files; texts name their symbols themselves",
            field="symbol" if symbol is not None else "timeframe",
        )
    texts = FileTextSource(
        path,
        format=chosen,
        symbol_map=symbol_map,
        name=source_name,
        latency=latency if latency is not None else DEFAULT_TEXT_INGESTION_LATENCY,
        fetched_at=stamp,
    )
    report("reading text files", 0, 1)
    writes = _text_writes(texts)
    result = _write(lake, "text", texts.spec, texts.files(), writes, report)
    return replace(result, texts_read=texts.texts_read(), unmapped=texts.unmapped())


def _is_market(path: Path, chosen: FileFormat | None) -> bool:
    if chosen is not None:
        return chosen.is_market
    kinds: dict[bool, Path] = {}
    for file in data_files(path):
        kinds.setdefault(detect_format(file).is_market, file)
    if len(kinds) > 1:
        raise DataError(
            f"the folder mixes bar files ({kinds[True].name}) and text files ({kinds[False].name})",
            source=str(path),
            fix="import bars and texts from separate folders, or pass format",
        )
    return next(iter(kinds))


def _market_writes(source: FileMarketSource) -> list[_Write]:
    files = source.load_all()  # every file parsed and validated before anything else
    for file in files:
        if file.timeframe.label not in BAR_TIMEFRAMES:
            raise DataError(
                f"the file holds {file.timeframe.label} bars; the lake stores "
                f"{sorted(BAR_TIMEFRAMES)} bars",
                source=str(file.path),
                field="timeframe",
                fix="import 1m or 1h bars (resample others before importing)",
            )
    writes = []
    for symbol in source.symbols():
        for timeframe in source.timeframes(symbol):
            dataset = DATASETS[bars_dataset_name(timeframe)]
            frame = conform(source.bars(symbol, timeframe), dataset, origin=source.name)
            writes.append(_Write(dataset.name, symbol, frame))
    return writes


def _text_writes(source: FileTextSource) -> list[_Write]:
    writes = []
    for dataset, frame in ((POSTS, source.posts()), (COMMENTS, source.comments())):
        conformed = conform(frame, dataset, origin=source.name)
        for symbol in sorted(conformed["symbol"].unique()):
            part = conformed.filter(pl.col("symbol") == symbol)
            writes.append(_Write(dataset.name, symbol, part))
    return writes


def _write(
    lake: Lake,
    kind: str,
    spec: dict[str, Any],
    files: list[Path],
    writes: list[_Write],
    report: Progress,
) -> ImportResult:
    counts = []
    origin = str(spec["name"])
    for done, write in enumerate(writes):
        report(f"writing {write.dataset} {write.symbol}", done, len(writes))
        result = _ingest(lake, write, origin)
        counts.append(
            ImportCounts(
                write.dataset,
                write.symbol,
                write.frame.height,
                result.inserted,
                result.updated,
                result.unchanged,
            )
        )
    report("done", len(writes), len(writes))
    return ImportResult(kind, spec, tuple(str(f) for f in files), tuple(counts))


def _ingest(lake: Lake, write: _Write, origin: str) -> UpsertResult:
    if write.dataset == POSTS.name:
        return ingest_posts(lake, write.frame, origin=origin)
    if write.dataset == COMMENTS.name:
        return ingest_comments(lake, write.frame, origin=origin)
    return ingest_bars(
        lake, write.frame, timeframe=write.dataset.removeprefix("bars_"), origin=origin
    )
