"""Resumable history backfill from a ccxt exchange into the lake.

Each page is written through `ingest_bars` as soon as it arrives, so a run that
dies loses at most the page in flight, and the next run starts one period after
the last bar stored for (source, symbol) instead of at `since`. Older history
before the first stored bar, and holes inside the stored span, are the audit's
and remediation's business: they ask `fetch_bars` for exactly the missing range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import structlog

from quantgate.adapters.ccxt.rows import RejectedRow
from quantgate.adapters.ccxt.source import CcxtMarketSource, FetchStats, ceil_ms, from_ms, to_ms
from quantgate.core.clock import ensure_utc
from quantgate.data.ingest import ingest_bars
from quantgate.data.schema import BAR_TIMEFRAMES, bars_dataset_name
from quantgate.storage.lake import Lake

log = structlog.get_logger(__name__)

# (symbol, bars done, bars in the range): what a progress bar needs.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BackfillResult:
    symbol: str
    start: datetime  # where this run began (after resuming)
    end: datetime  # exclusive end it aimed for
    resumed_from: datetime | None  # set when stored bars moved the start past `since`
    fetched: int  # closed, well-formed bars received
    inserted: int  # rows new to the lake
    updated: int  # stored rows the exchange now reports differently
    rejected: tuple[RejectedRow, ...]
    pages: int
    requests: int
    retries: int
    stop_reason: str


def last_stored_bar(lake: Lake, source_name: str, symbol: str, timeframe: str) -> datetime | None:
    """Open time of the newest bar in the lake for (source, symbol), if any."""
    lazy = lake.scan(bars_dataset_name(timeframe), [symbol])
    if lazy is None:
        return None
    newest = lazy.filter(pl.col("source") == source_name).select(pl.col("ts").max()).collect()
    value = newest.item()
    return ensure_utc(value) if value is not None else None


def backfill(
    lake: Lake,
    source: CcxtMarketSource,
    symbols: Sequence[str],
    since: datetime,
    until: datetime | None = None,
    timeframe: str = "1h",
    progress: ProgressCallback | None = None,
) -> dict[str, BackfillResult]:
    """Fetch closed bars `since <= ts < until` (default: up to now) per symbol into the lake.

    A TemporaryError (the exchange stayed unavailable past the retries) propagates
    after the pages already received are stored; rerunning resumes from there.
    """
    since = ensure_utc(since, name="since")
    until = ensure_utc(until, name="until") if until is not None else None
    results: dict[str, BackfillResult] = {}
    for symbol in symbols:
        results[symbol] = _backfill_symbol(lake, source, symbol, since, until, timeframe, progress)
    return results


def _backfill_symbol(
    lake: Lake,
    source: CcxtMarketSource,
    symbol: str,
    since: datetime,
    until: datetime | None,
    timeframe: str,
    progress: ProgressCallback | None,
) -> BackfillResult:
    step = BAR_TIMEFRAMES[timeframe]
    step_ms = step // timedelta(milliseconds=1)
    end = until or source.now()
    start = from_ms(ceil_ms(to_ms(since), step_ms))
    resumed_from = None
    last = last_stored_bar(lake, source.name, symbol, timeframe)
    if last is not None and last + step > start:
        start = resumed_from = last + step
    stats = source.new_stats(symbol, start, max(start, end), timeframe)
    total = max(0, -(-(to_ms(stats.end) - to_ms(start)) // step_ms))
    log.info(
        "ccxt.backfill.start",
        source=source.name,
        symbol=symbol,
        timeframe=timeframe,
        start=start.isoformat(),
        end=stats.end.isoformat(),
        resumed_from=resumed_from.isoformat() if resumed_from else None,
    )
    if progress is not None:
        progress(symbol, 0, total)
    inserted = updated = 0
    for frame in source.fetch_pages(symbol, start, stats.end, timeframe, stats=stats):
        written = ingest_bars(lake, frame, timeframe=timeframe, origin=f"{source.name}:{symbol}")
        inserted += written.inserted
        updated += written.updated
        if progress is not None:
            progress(symbol, _done(stats, start, step_ms, total), total)
    if progress is not None:
        progress(symbol, total, total)
    result = _result(stats, start, resumed_from, inserted, updated)
    log.info(
        "ccxt.backfill.done",
        source=source.name,
        symbol=symbol,
        fetched=result.fetched,
        inserted=inserted,
        updated=updated,
        rejected=len(result.rejected),
        pages=result.pages,
        retries=result.retries,
        stop_reason=result.stop_reason,
    )
    return result


def _done(stats: FetchStats, start: datetime, step_ms: int, total: int) -> int:
    return min(total, max(0, (to_ms(stats.cursor) - to_ms(start)) // step_ms))


def _result(
    stats: FetchStats,
    start: datetime,
    resumed_from: datetime | None,
    inserted: int,
    updated: int,
) -> BackfillResult:
    return BackfillResult(
        symbol=stats.symbol,
        start=start,
        end=stats.end,
        resumed_from=resumed_from,
        fetched=stats.bars,
        inserted=inserted,
        updated=updated,
        rejected=tuple(stats.rejected),
        pages=stats.pages,
        requests=stats.requests,
        retries=stats.retries,
        stop_reason=stats.stop_reason,
    )
