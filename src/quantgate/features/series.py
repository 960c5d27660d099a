"""In-memory inputs of one symbol: its bar series and its texts, with point-in-time views.

Times are int64 microseconds since the epoch (UTC) throughout the computation;
they become Polars UTC datetimes again only at the edges.

Point-in-time rules used by the pipeline:

- the bars *known* at t are those with available_at <= t;
- the *anchor* at t is the latest known bar (by open time); every bar-level value
  at t is the value at the anchor row;
- that value is exact when every stored bar up to the anchor is known at t (the
  known set is a prefix of the series); when a bar arrives late it is not, and
  the pipeline recomputes that row from the known set alone;
- the provenance of the bars at t is the largest available_at among the known bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from quantgate.features.ops import BoolArray, FloatArray, IntArray

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
NONE_TIME = np.iinfo(np.int64).min  # "no time" in int64 time arrays


def to_micros(series: pl.Series) -> IntArray:
    return np.asarray(series.dt.epoch("us").to_numpy(), dtype=np.int64)


def micros_to_series(values: IntArray, name: str) -> pl.Series:
    """int64 µs → UTC datetime Series; NONE_TIME becomes null."""
    ints = pl.Series(name, values, dtype=pl.Int64)
    return (
        pl.select(pl.when(ints == NONE_TIME).then(None).otherwise(ints).alias(name))
        .to_series()
        .cast(pl.Datetime("us", "UTC"))
    )


@dataclass(frozen=True, eq=False)
class BarSeries:
    """One symbol's hourly bars from one source, sorted by open time, one bar per hour."""

    symbol: str
    source: str
    ts: IntArray
    available_at: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def from_frame(cls, symbol: str, source: str, frame: pl.DataFrame) -> BarSeries:
        ordered = frame.sort("ts").unique("ts", keep="last", maintain_order=True)
        return cls(
            symbol,
            source,
            to_micros(ordered["ts"]),
            to_micros(ordered["available_at"]),
            *(
                np.asarray(ordered[c].cast(pl.Float64).to_numpy(), dtype=np.float64)
                for c in ("open", "high", "low", "close", "volume")
            ),
        )

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def _take(self, mask: BoolArray) -> BarSeries:
        return BarSeries(
            self.symbol,
            self.source,
            self.ts[mask],
            self.available_at[mask],
            self.open[mask],
            self.high[mask],
            self.low[mask],
            self.close[mask],
            self.volume[mask],
        )

    def known_at(self, moment: int) -> BarSeries:
        return self._take(self.available_at <= moment)

    def window(self, start_ts: int) -> BarSeries:
        """The bars opening at or after `start_ts` (the warm-up window of a partial computation)."""
        return self._take(self.ts >= start_ts)

    @cached_property
    def _by_available(self) -> tuple[IntArray, IntArray]:
        order = np.argsort(self.available_at, kind="stable")
        available = self.available_at[order]
        latest_ts = np.maximum.accumulate(self.ts[order]) if len(self) else self.ts
        return available, latest_ts

    @cached_property
    def _cummax_available(self) -> IntArray:
        if not len(self):
            return self.available_at
        return np.maximum.accumulate(self.available_at)

    def anchors(self, asofs: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
        """Per asof: anchor open time, bars provenance, and 'known set is a prefix'.

        Times are NONE_TIME where nothing is known yet.
        """
        available, latest_ts = self._by_available
        position = np.searchsorted(available, asofs, side="right") - 1
        known = position >= 0
        safe = np.where(known, position, 0)
        anchor = np.where(known, latest_ts[safe] if len(self) else NONE_TIME, NONE_TIME)
        provenance = np.where(known, available[safe] if len(self) else NONE_TIME, NONE_TIME)
        prefix = self.prefix_known(anchor, asofs)
        return anchor.astype(np.int64), provenance.astype(np.int64), prefix

    def prefix_known(self, upto_ts: IntArray, asofs: IntArray) -> BoolArray:
        """True where every stored bar opening at or before `upto_ts` is known at the asof."""
        position = np.searchsorted(self.ts, upto_ts, side="right") - 1
        has = position >= 0
        latest = np.where(
            has, self._cummax_available[np.where(has, position, 0)] if len(self) else 0, NONE_TIME
        )
        return np.asarray((upto_ts == NONE_TIME) | (latest <= asofs), dtype=np.bool_)


@dataclass(frozen=True, eq=False)
class ListingIndex:
    """When a symbol was listed, as known at any time: the first stored bar among those
    available by then. Built once from the whole series, so a computation on a warm-up
    window still sees the true listing."""

    available_at: IntArray  # sorted
    earliest_ts: IntArray  # first bar open time among the bars available by then

    @classmethod
    def of(cls, series: BarSeries) -> ListingIndex:
        order = np.argsort(series.available_at, kind="stable")
        earliest = np.minimum.accumulate(series.ts[order]) if len(series) else series.ts
        return cls(series.available_at[order], np.asarray(earliest, dtype=np.int64))

    def at(self, asofs: IntArray) -> IntArray:
        position = np.searchsorted(self.available_at, asofs, side="right") - 1
        if self.available_at.shape[0] == 0:
            return np.full(asofs.shape, NONE_TIME, dtype=np.int64)
        found = self.earliest_ts[np.maximum(position, 0)]
        return np.where(position >= 0, found, NONE_TIME).astype(np.int64)


@dataclass(frozen=True, eq=False)
class BarGrid:
    """Bars on a regular hourly grid; missing hours are NaN, short gaps carry the close forward.

    `filled` marks hours whose open and close were carried forward (high, low and
    volume stay missing); `missing` marks every hour without a stored bar.
    `reference_close` is the reference symbol's close on the same grid (same fill rule).
    """

    symbol: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    missing: BoolArray
    filled: BoolArray
    reference_close: FloatArray
    extra: dict[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def start(self) -> int:
        return int(self.ts[0])

    def row_of(self, moments: IntArray) -> IntArray:
        """Grid row of each open time (-1 when outside the grid or NONE_TIME)."""
        if not len(self):
            return np.full(moments.shape, -1, dtype=np.int64)
        rows = (moments - self.start) // HOUR_US
        inside = (moments != NONE_TIME) & (rows >= 0) & (rows < len(self))
        return np.where(inside, rows, -1).astype(np.int64)


def _regular(
    series: BarSeries, max_fill: int
) -> tuple[IntArray, dict[str, FloatArray], BoolArray, BoolArray]:
    if not len(series):
        empty = np.empty(0, dtype=np.float64)
        return (
            np.empty(0, dtype=np.int64),
            {k: empty for k in ("open", "high", "low", "close", "volume")},
            np.empty(0, dtype=np.bool_),
            np.empty(0, dtype=np.bool_),
        )
    start = int(series.ts[0])
    n = int((series.ts[-1] - start) // HOUR_US) + 1
    ts = start + np.arange(n, dtype=np.int64) * HOUR_US
    rows = ((series.ts - start) // HOUR_US).astype(np.int64)
    values = {}
    for name in ("open", "high", "low", "close", "volume"):
        column = np.full(n, np.nan, dtype=np.float64)
        column[rows] = getattr(series, name)
        values[name] = column
    present = np.zeros(n, dtype=np.bool_)
    present[rows] = True
    index = np.arange(n, dtype=np.int64)
    previous = np.maximum.accumulate(np.where(present, index, -1))
    following = np.minimum.accumulate(np.where(present, index, n)[::-1])[::-1]
    gap = following - previous - 1
    filled = ~present & (previous >= 0) & (following < n) & (gap <= max_fill)
    if filled.any():
        carried = values["close"][previous[filled]]
        values["close"][filled] = carried
        values["open"][filled] = carried
    return ts, values, ~present, filled


def build_grid(series: BarSeries, reference: BarSeries | None, max_fill: int) -> BarGrid:
    ts, values, missing, filled = _regular(series, max_fill)
    reference_close = np.full(ts.shape, np.nan, dtype=np.float64)
    if reference is not None and len(reference) and len(ts):
        ref_ts, ref_values, _, _ = _regular(reference, max_fill)
        rows = (ts - ref_ts[0]) // HOUR_US
        inside = (rows >= 0) & (rows < ref_ts.shape[0])
        reference_close[inside] = ref_values["close"][rows[inside]]
    return BarGrid(
        series.symbol,
        ts,
        values["open"],
        values["high"],
        values["low"],
        values["close"],
        values["volume"],
        missing,
        filled,
        reference_close,
    )


@dataclass(frozen=True, eq=False)
class TextSeries:
    """One symbol's posts and comments, sorted by (available_at, ts, key).

    `embedding_rows` index into the embedding matrix handed to the pipeline.
    """

    symbol: str
    ts: IntArray
    available_at: IntArray
    is_comment: BoolArray
    author: IntArray
    content_hash: tuple[str, ...]
    embedding_rows: IntArray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def _take(self, mask: BoolArray) -> TextSeries:
        indices = np.flatnonzero(mask)
        return TextSeries(
            self.symbol,
            self.ts[mask],
            self.available_at[mask],
            self.is_comment[mask],
            self.author[mask],
            tuple(self.content_hash[i] for i in indices),
            self.embedding_rows[mask],
        )

    def known_at(self, moment: int) -> TextSeries:
        return self._take(self.available_at <= moment)

    def window(self, start_available: int) -> TextSeries:
        return self._take(self.available_at > start_available)

    @staticmethod
    def empty(symbol: str) -> TextSeries:
        nothing = np.empty(0, dtype=np.int64)
        return TextSeries(
            symbol, nothing, nothing, np.empty(0, dtype=np.bool_), nothing, (), nothing
        )


def overdue_bars(asofs: IntArray, anchor: IntArray, delay_us: int) -> FloatArray:
    """Hourly bars that should have closed (by asof - delay) after the anchor and are not known.

    0 in normal operation; NaN-free: +inf where no bar is known at all.
    """
    known = anchor != NONE_TIME
    overdue = np.floor((asofs - anchor - HOUR_US - delay_us) / HOUR_US)
    return np.where(known, np.maximum(overdue, 0.0), np.inf).astype(np.float64)


def hourly_asofs(first_bar_ts: int, last_bar_ts: int, delay_us: int) -> IntArray:
    """Decision times: each hourly bar's close plus the decision delay."""
    return (
        first_bar_ts
        + HOUR_US
        + delay_us
        + np.arange((last_bar_ts - first_bar_ts) // HOUR_US + 1, dtype=np.int64) * HOUR_US
    )
