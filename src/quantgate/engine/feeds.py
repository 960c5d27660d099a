"""Market feeds: bars from a frame or the lake (backtest), or pushed in by a live source.

`FrameBarFeed` holds the bars as column arrays sorted by (available_at, symbol)
and builds `Bar` objects one event at a time, so memory stays flat and the
per-bar cost is a handful of slot writes (where each event's rows start is
found once, when the feed is made). `LakeBarFeed` reads `bars_1h` for a
set of symbols and a window, picks one source per symbol (by default the one
with the most bars in the window) and records the sha256 of every partition it
read. `QueueFeed` is the paper/live feed: a source thread puts events in, the
engine takes them out in arrival order.
"""

from __future__ import annotations

import hashlib
import queue
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantgate.core.clock import ensure_utc
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.core.slots import draft_class
from quantgate.core.types import Bar, Prediction
from quantgate.engine.ports import MarketEvent, MarketFeed
from quantgate.storage.lake import Lake, file_sha256, manifest_hash

BAR_COLUMNS = ("symbol", "ts", "available_at", "open", "high", "low", "close", "volume")


def bars_digest(frame: pl.DataFrame) -> str:
    """sha256 of the bars themselves (the BAR_COLUMNS in (symbol, ts) order): the same bars
    give the same digest in any process and with any Polars version (raw values are hashed,
    not a serialisation of the frame)."""
    ordered = frame.select(BAR_COLUMNS).sort("symbol", "ts")
    digest = hashlib.sha256()
    digest.update("\x00".join(ordered["symbol"].to_list()).encode())
    for name in ("ts", "available_at"):
        digest.update(ordered[name].dt.epoch("us").to_numpy().astype("<i8").tobytes())
    for name in ("open", "high", "low", "close", "volume"):
        digest.update(ordered[name].cast(pl.Float64).to_numpy().astype("<f8").tobytes())
    return digest.hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Mutable twins of the frozen Bar and MarketEvent: a bar built on its twin skips only the
# UTC checks of Bar.__post_init__, which hold by construction here (times come from UTC
# epoch micros); an event's fields hold by construction too.
_BarDraft = draft_class(Bar)
_EventDraft = draft_class(MarketEvent)
_NO_PREDICTIONS: tuple[Prediction, ...] = ()


def _micros(moment: datetime) -> int:
    delta = ensure_utc(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _UtcMoments:
    """Epoch microseconds as UTC datetimes, for moments that mostly come evenly spaced.

    `timedelta(microseconds=n)` normalises through Python ints (a few thousand instructions,
    twice per event); adding a timedelta to a datetime is integer arithmetic too, so the
    previous moment plus the gap, kept while the gap repeats, is the same datetime.
    """

    __slots__ = ("_gap", "_micros", "_moment", "_step")

    def __init__(self) -> None:
        self._micros, self._moment = 0, _EPOCH
        self._gap, self._step = 0, timedelta(0)

    def __call__(self, micros: int) -> datetime:
        gap = micros - self._micros
        if gap != self._gap:
            self._gap, self._step = gap, timedelta(0, 0, gap)
        self._micros, self._moment = micros, self._moment + self._step
        return self._moment


class FrameBarFeed(MarketFeed):
    """Bars from a Polars frame with the bar columns (see BAR_COLUMNS), plus optional
    predictions; events in (available_at, symbol) order, predictions after the bars."""

    def __init__(
        self,
        frame: pl.DataFrame,
        *,
        predictions: Iterable[Prediction] = (),
        description: dict[str, Any] | None = None,
    ) -> None:
        missing = [c for c in BAR_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"bar frame lacks columns {missing}", field=missing[0])
        frame = frame.select(BAR_COLUMNS).sort(["available_at", "symbol"])
        duplicated = frame.select(["symbol", "ts"]).is_duplicated()
        if duplicated.any():
            row = frame.filter(duplicated).row(0, named=True)
            raise DataError(
                f"two bars for {row['symbol']} at {row['ts']}",
                field="ts",
                fix="pick one source per symbol",
            )
        self._frame = frame
        self._symbols = tuple(sorted(frame["symbol"].unique().to_list()))
        self._sym = frame["symbol"].to_list()
        # A list, as the prices: read row by row, a numpy array would box every element.
        self._ts: list[int] = frame["ts"].dt.epoch("us").to_list()
        self._available = frame["available_at"].dt.epoch("us").to_numpy()
        self._prices = [frame[c].cast(pl.Float64).to_list() for c in BAR_COLUMNS[3:]]
        # Row index where each event (one available_at) starts, then the row count; and
        # each event's time in epoch microseconds.
        available = self._available
        starts = (np.flatnonzero(available[1:] != available[:-1]) + 1).tolist()
        event_rows: list[int] = [0, *starts, len(available)] if len(available) else [0]
        self._predictions = sorted(predictions, key=lambda p: (p.asof, p.symbol))
        self._timeline(event_rows, available[event_rows[:-1]].tolist())
        self._description = description or {}

    def _timeline(self, event_rows: list[int], bar_micros: list[int]) -> None:
        """The events, worked out once (not on every event): bar times and prediction times
        merged in order, each with its time in epoch microseconds, its rows [start, end)
        (empty for predictions alone) and, when it has any, its predictions."""
        by_time: dict[int, list[Prediction]] = {}
        for prediction in self._predictions:
            by_time.setdefault(_micros(prediction.asof), []).append(prediction)
        self._event_predictions: dict[int, list[Prediction]] = {}
        if not by_time:
            # Bars alone (the usual backtest): the bar events as they are.
            self._event_times: list[int] = bar_micros
            self._event_starts: list[int] = event_rows[:-1]
            self._event_ends: list[int] = event_rows[1:]
            return
        self._event_times = sorted({*bar_micros, *by_time})
        self._event_starts = []
        self._event_ends = []
        bar_event = 0
        for index, moment in enumerate(self._event_times):
            start = event_rows[bar_event]
            if bar_event < len(bar_micros) and bar_micros[bar_event] == moment:
                bar_event += 1
            self._event_starts.append(start)
            self._event_ends.append(event_rows[bar_event])
            made = by_time.get(moment)
            if made is not None:
                self._event_predictions[index] = made

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def frame(self) -> pl.DataFrame:
        """The bars, sorted by (available_at, symbol)."""
        return self._frame

    @property
    def bar_count(self) -> int:
        return self._frame.height

    def describe(self) -> dict[str, Any]:
        first = self._frame["ts"].min() if self.bar_count else None
        last = self._frame["ts"].max() if self.bar_count else None
        return {
            "kind": type(self).__name__,
            "symbols": list(self._symbols),
            "bars": self.bar_count,
            "first_bar": first,
            "last_bar": last,
            "predictions": len(self._predictions),
            **self._description,
        }

    def bars_before(self, moment: datetime) -> int:
        """How many bars are available at or before `moment`."""
        return int(np.searchsorted(self._available, _micros(moment), side="right"))

    def event_count(self) -> int:
        """How many events `events()` yields: distinct bar times plus prediction times
        that fall between them (a progress bar's total)."""
        return len(self._event_times)

    def events(self, after: datetime | None = None) -> Iterator[MarketEvent]:
        times, starts, ends = self._event_times, self._event_starts, self._event_ends
        event_predictions = self._event_predictions
        first = 0 if after is None else bisect_right(times, _micros(after))
        symbols, stamps = self._sym, self._ts
        opens, highs, lows, closes, volumes = self._prices
        new = object.__new__
        # Event times and bar open times each advance a bar interval at a time.
        event_moment, open_moment = _UtcMoments(), _UtcMoments()
        # Bars of one event nearly always share their open time: build it once.
        last_stamp, last_moment = -1, _EPOCH
        for event in range(first, len(times)):
            start, end = starts[event], ends[event]
            made: Sequence[Prediction] = event_predictions.get(event, _NO_PREDICTIONS)
            bars: list[Bar] = []
            if start == end:
                at = made[0].asof  # predictions alone: their own time, as they hold it
            else:
                at = event_moment(times[event])
                for row in range(start, end):
                    stamp = stamps[row]
                    if stamp != last_stamp:
                        last_stamp, last_moment = stamp, open_moment(stamp)
                    bar: Any = new(_BarDraft)
                    bar.symbol = symbols[row]
                    bar.ts = last_moment
                    bar.available_at = at
                    bar.open = opens[row]
                    bar.high = highs[row]
                    bar.low = lows[row]
                    bar.close = closes[row]
                    bar.volume = volumes[row]
                    bar.__class__ = Bar
                    bars.append(bar)
            market_event: Any = new(_EventDraft)
            market_event.at = at
            market_event.bars = bars
            market_event.predictions = made
            market_event.__class__ = MarketEvent
            yield market_event


def choose_sources(frame: pl.DataFrame, source: str | None = None) -> dict[str, str]:
    """Per symbol, the source with the most bars (ties: alphabetical), or `source`."""
    if frame.is_empty():
        return {}
    counts = (
        frame.group_by(["symbol", "source"])
        .len()
        .sort(["symbol", "len", "source"], descending=[False, True, False])
    )
    chosen: dict[str, str] = {}
    for row in counts.iter_rows(named=True):
        if source is not None:
            if row["source"] == source:
                chosen[row["symbol"]] = source
        else:
            chosen.setdefault(row["symbol"], row["source"])
    return chosen


class LakeBarFeed(FrameBarFeed):
    """`bars_1h` (or another bar dataset) from the lake for `symbols` and `start <= ts < end`."""

    def __init__(
        self,
        lake: Lake,
        symbols: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        source: str | None = None,
        dataset: str = "bars_1h",
        predictions: Iterable[Prediction] = (),
    ) -> None:
        start, end = ensure_utc(start, name="start"), ensure_utc(end, name="end")
        if end <= start:
            raise ConfigurationError("the window is empty", field="end", fix="give end > start")
        wanted = tuple(dict.fromkeys(symbols))
        raw = lake.read(dataset, wanted, start, end)
        chosen = choose_sources(raw, source)
        absent = [symbol for symbol in wanted if symbol not in chosen]
        if absent:
            held = lake.symbols(dataset)
            raise ConfigurationError(
                f"no {dataset} bars for {absent} between {start.isoformat()} and "
                f"{end.isoformat()}" + (f" from source {source!r}" if source else ""),
                field="symbols",
                fix=f"import or generate the data first (the lake holds {held})",
            )
        keep = pl.DataFrame(
            {"symbol": list(chosen), "source": list(chosen.values())},
            schema={"symbol": pl.String, "source": pl.String},
        )
        frame = raw.join(keep, on=["symbol", "source"], how="semi")
        self.lake = lake
        self.dataset = dataset
        self.window = (start, end)
        self.sources = chosen
        self.partitions = _partition_manifest(lake, dataset, wanted, start, end)
        # The partitions' hashes say the files are unchanged; the bars' digest says which of
        # their bars this run read (a shorter window of the same files is other data).
        self.bars_sha256 = bars_digest(frame)
        self.manifest_hash = manifest_hash({**self.partitions, "bars_read": self.bars_sha256})
        super().__init__(
            frame,
            predictions=predictions,
            description={
                "dataset": dataset,
                "sources": chosen,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "bars_sha256": self.bars_sha256,
                "manifest": self.partitions,
                "manifest_hash": self.manifest_hash,
            },
        )


def _partition_manifest(
    lake: Lake, dataset: str, symbols: Sequence[str], start: datetime, end: datetime
) -> dict[str, str]:
    """sha256 of each partition the window reads (end is exclusive)."""
    last_year = (end - timedelta(microseconds=1)).year
    return {
        str(ref.path.relative_to(lake.root)): file_sha256(ref.path)
        for ref in lake.partitions(dataset, symbols)
        if start.year <= ref.year <= last_year
    }


class QueueFeed(MarketFeed):
    """Paper/live: a source thread calls `put(event)`; the engine iterates `events()`.

    Events must arrive in time order; one at or before the last yielded time is a
    replay (e.g. a reconnect re-sending the last bar) and is skipped. `close()`
    ends the stream after the events already queued.
    """

    _CLOSE = object()

    def __init__(self, symbols: Sequence[str], *, maxsize: int = 10_000) -> None:
        self._symbols = tuple(symbols)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def put(self, event: MarketEvent, timeout: float | None = None) -> None:
        self._queue.put(event, timeout=timeout)

    def close(self) -> None:
        self._queue.put(self._CLOSE)

    def events(self, after: datetime | None = None) -> Iterator[MarketEvent]:
        last = after
        while True:
            item = self._queue.get()
            if item is self._CLOSE:
                return
            event: MarketEvent = item
            if last is not None and event.at <= last:
                continue
            last = event.at
            yield event
