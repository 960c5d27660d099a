"""Forward-return labels per horizon (DESIGN §3.2).

For a decision time ``t`` and horizon ``h`` the label is the forward log return
from the close known at ``t`` to the close known at ``t + h``; its *label window*
is ``[t, t + h]``. Decision times are bar closes plus a fixed delay, so within one
symbol they lie on an hourly grid and "the close known at ``t + h``" is the row
whose ``asof`` is exactly ``t + h``.

Per horizon this module produces four columns (names from `label_columns`):

- ``ret_<h>``: forward log return, NaN when either close is missing. A missing
  future close is never replaced by an earlier one: carrying a price across a
  gap would invent a zero return the market never printed.
- ``rv_<h>``: realised volatility over the label window, the square root of the
  sum of squared hourly log returns inside ``(t, t + h]``; NaN unless all ``h``
  hourly returns exist, because a partial sum understates volatility.
- ``dir_<h>``: 1.0 when the forward return is > 0, 0.0 when it is <= 0 (a flat
  move is "not up"), NaN when the return is NaN.
- ``label_end_<h>``: ``t + h``, always set (the window exists even when the
  future close is missing); splitters purge with it.

Missing values are NaN (not null) so they flow through NumPy unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HOUR_US = 3_600_000_000
# Bump when the label definition changes; training runs record it.
LABELS_VERSION = 1


@dataclass(frozen=True, slots=True)
class LabelColumns:
    """Column names of one horizon's labels."""

    horizon: Horizon
    ret: str
    rv: str
    direction: str
    label_end: str


def label_columns(horizon: Horizon) -> LabelColumns:
    suffix = horizon.value
    return LabelColumns(
        horizon=horizon,
        ret=f"ret_{suffix}",
        rv=f"rv_{suffix}",
        direction=f"dir_{suffix}",
        label_end=f"label_end_{suffix}",
    )


def compute_labels(
    frame: pl.DataFrame,
    horizons: Sequence[Horizon],
    *,
    symbol_col: str = "symbol",
    time_col: str = "asof",
    close_col: str = "close",
) -> pl.DataFrame:
    """Add the label columns of every horizon to ``frame``.

    ``frame`` holds one row per (symbol, decision time) with the close known at
    that time (null/NaN where no close is known). Every input column is kept;
    the result is sorted by (symbol, asof).

    Raises DataError for duplicate (symbol, asof) rows, null keys, non-positive
    or infinite closes, and decision times of one symbol that are not a whole
    number of hours apart (the hourly grid is what makes ``t + h`` exact).
    """
    unique_horizons = sorted(set(horizons), key=lambda h: h.hours)
    if not unique_horizons:
        raise ProgrammerError("compute_labels needs at least one horizon")
    _check_columns(frame, symbol_col, time_col, close_col)

    data = frame.sort(symbol_col, time_col)
    if data.is_empty():
        return data.with_columns(_empty_label_columns(data, unique_horizons, time_col))

    times = data[time_col].dt.epoch("us").to_numpy().astype(np.int64)
    closes = data[close_col].cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64)
    _check_closes(closes, close_col)
    segment = _segment_ids(data[symbol_col])
    _check_unique(times, segment, data, symbol_col, time_col)

    max_hours = unique_horizons[-1].hours
    positions, length = _dense_positions(times, segment, max_hours, data, symbol_col, time_col)

    # Dense per-symbol hourly grid with NaN padding between symbols: index
    # arithmetic (position + h) then never reaches another symbol's prices.
    log_close = np.full(length, np.nan)
    log_close[positions] = np.log(closes)
    hourly = np.empty(length)
    hourly[0] = np.nan
    np.subtract(log_close[1:], log_close[:-1], out=hourly[1:])
    present = ~np.isnan(hourly)
    squared = np.where(present, hourly * hourly, 0.0)
    present_before = np.concatenate(([0], np.cumsum(present, dtype=np.int64)))

    columns: list[pl.Series] = []
    for horizon in unique_horizons:
        names = label_columns(horizon)
        steps = horizon.hours
        forward = log_close[positions + steps] - log_close[positions]
        direction = np.where(np.isnan(forward), np.nan, (forward > 0.0).astype(np.float64))
        rv = _realised_vol(squared, present_before, positions, steps)
        columns += [
            pl.Series(names.ret, forward, dtype=pl.Float64),
            pl.Series(names.rv, rv, dtype=pl.Float64),
            pl.Series(names.direction, direction, dtype=pl.Float64),
        ]
    result = data.with_columns(columns)
    return result.with_columns(
        (pl.col(time_col) + pl.duration(hours=h.hours)).alias(label_columns(h).label_end)
        for h in unique_horizons
    )


def _realised_vol(
    squared: FloatArray, present_before: IntArray, positions: IntArray, steps: int
) -> FloatArray:
    # Window sums via reduceat rather than differences of one long cumulative sum:
    # a cumsum over years of a volatile symbol loses the precision a quiet
    # window needs. Even slots hold [start, end) sums; odd slots are discarded.
    start = positions + 1
    end = positions + steps + 1
    bounds = np.empty(2 * len(positions), dtype=np.int64)
    bounds[0::2] = start
    bounds[1::2] = end
    sums = np.add.reduceat(squared, bounds)[0::2]
    count = present_before[end] - present_before[start]
    complete = count == steps
    return np.where(complete, np.sqrt(np.where(complete, sums, 0.0)), np.nan)


def _check_columns(frame: pl.DataFrame, symbol_col: str, time_col: str, close_col: str) -> None:
    missing = [c for c in (symbol_col, time_col, close_col) if c not in frame.columns]
    if missing:
        raise ProgrammerError(f"compute_labels: frame lacks columns {missing}")
    dtype = frame.schema[time_col]
    if not isinstance(dtype, pl.Datetime):
        raise ProgrammerError(f"compute_labels: {time_col!r} must be a Datetime, got {dtype}")
    if not frame.schema[close_col].is_numeric():
        raise ProgrammerError(f"compute_labels: {close_col!r} must be numeric")
    for name in (symbol_col, time_col):
        nulls = frame[name].null_count()
        if nulls:
            raise DataError(f"{nulls} null values", field=name, fix="drop or repair those rows")


def _check_closes(closes: FloatArray, close_col: str) -> None:
    bad = np.flatnonzero(np.isinf(closes) | (closes <= 0.0))
    if len(bad):
        raise DataError(
            f"{len(bad)} non-positive or infinite closes (first at sorted row {bad[0]})",
            row=int(bad[0]),
            field=close_col,
            fix="quarantine the bars; a missing close should be null, not 0",
        )


def _segment_ids(symbols: pl.Series) -> IntArray:
    starts = (symbols != symbols.shift(1)).fill_null(True).to_numpy()
    return np.cumsum(starts, dtype=np.int64) - 1


def _check_unique(
    times: IntArray, segment: IntArray, data: pl.DataFrame, symbol_col: str, time_col: str
) -> None:
    dup = np.flatnonzero((np.diff(times) == 0) & (np.diff(segment) == 0))
    if len(dup):
        row = int(dup[0])
        raise DataError(
            f"{len(dup)} duplicate ({symbol_col}, {time_col}) rows, e.g. "
            f"{data[symbol_col][row]} at {data[time_col][row]}",
            row=row,
            fix="deduplicate the close series before labelling",
        )


def _dense_positions(
    times: IntArray,
    segment: IntArray,
    max_hours: int,
    data: pl.DataFrame,
    symbol_col: str,
    time_col: str,
) -> tuple[IntArray, int]:
    """Row → index in a padded dense hourly grid; also the grid length."""
    first_row = np.flatnonzero(np.diff(segment, prepend=-1))
    offset = times - times[first_row][segment]
    off_grid = np.flatnonzero(offset % HOUR_US)
    if len(off_grid):
        row = int(off_grid[0])
        raise DataError(
            f"{len(off_grid)} decision times off the symbol's hourly grid, e.g. "
            f"{data[symbol_col][row]} at {data[time_col][row]}",
            row=row,
            field=time_col,
            fix="build decision times as bar close + one fixed delay",
        )
    hour = offset // HOUR_US
    last_row = np.append(first_row[1:] - 1, len(times) - 1)
    span = hour[last_row] + 1
    # max_hours + 1 of padding on each side of every symbol: forward lookups stay
    # inside the padding and the first hourly return of a symbol sees a NaN.
    pad = max_hours + 1
    base = pad + np.concatenate(([0], np.cumsum(span + pad)[:-1]))
    positions = (base[segment] + hour).astype(np.int64)
    length = int(base[-1] + span[-1] + pad + 1)
    return positions, length


def _empty_label_columns(
    data: pl.DataFrame, horizons: Sequence[Horizon], time_col: str
) -> list[pl.Series]:
    columns: list[pl.Series] = []
    for horizon in horizons:
        names = label_columns(horizon)
        columns += [
            pl.Series(names.ret, [], dtype=pl.Float64),
            pl.Series(names.rv, [], dtype=pl.Float64),
            pl.Series(names.direction, [], dtype=pl.Float64),
            pl.Series(names.label_end, [], dtype=data.schema[time_col]),
        ]
    return columns
