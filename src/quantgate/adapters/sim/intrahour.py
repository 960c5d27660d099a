"""Finer paths inside a coarser bar that aggregate exactly to it.

The 1-minute bars of an hour (and the 1-second mids of a minute, see books.py)
come from a random walk bridged from the bar's open to its close, with its
excursion scaled down until it fits inside the bar's [low, high]; the
sub-intervals that come closest then touch the bar's high and low exactly. The
draws are counter-based on (symbol, global hour, minute), so any hour can be
generated alone and always gives the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from quantgate.adapters.sim.market import SymbolPath
from quantgate.adapters.sim.randomness import hashed_normals, hashed_uniforms, stream_key

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MINUTES_PER_HOUR = 60


def bridged_paths(
    open_: FloatArray,
    close: FloatArray,
    low: FloatArray,
    high: FloatArray,
    step_sigma: FloatArray,
    normals: FloatArray,
) -> FloatArray:
    """One price path per row from open to close, staying inside [low, high].

    `normals` has shape (rows, steps); the result has shape (rows, steps + 1)
    with the exact open in column 0 and the exact close in the last column.
    """
    rows, steps = normals.shape
    walk = np.zeros((rows, steps + 1))
    walk[:, 1:] = np.cumsum(normals, axis=1) * step_sigma[:, None]
    fraction = np.arange(steps + 1) / steps
    bridge = walk - fraction * walk[:, -1:]
    log_open, log_close = np.log(open_)[:, None], np.log(close)[:, None]
    line = log_open + fraction * (log_close - log_open)
    log_low, log_high = np.log(low)[:, None], np.log(high)[:, None]
    # The largest scale s <= 1 for which line + s * bridge stays within [low, high];
    # the straight line itself does, since open and close lie inside the bar.
    with np.errstate(divide="ignore", invalid="ignore"):
        room_up = np.where(bridge > 0, (log_high - line) / bridge, np.inf)
        room_down = np.where(bridge < 0, (log_low - line) / bridge, np.inf)
    scale = np.clip(np.minimum(room_up.min(axis=1), room_down.min(axis=1)), 0.0, 1.0)
    # The clip only undoes rounding in exp/log.
    path: FloatArray = np.clip(np.exp(line + scale[:, None] * bridge), low[:, None], high[:, None])
    path[:, 0] = open_
    path[:, -1] = close
    return path


def sub_bars(
    path: FloatArray,
    low: FloatArray,
    high: FloatArray,
    step_sigma: FloatArray,
    wick_normals: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """OHLC of the sub-intervals of each row's path, reaching the row's low and high exactly.

    `wick_normals` has shape (2, rows, steps): how far each sub-bar's high and low
    reach beyond its open/close before being capped by the parent bar.
    """
    sub_open, sub_close = path[:, :-1], path[:, 1:]
    top, bottom = np.maximum(sub_open, sub_close), np.minimum(sub_open, sub_close)
    sub_high = np.minimum(
        top * np.exp(0.5 * step_sigma[:, None] * np.abs(wick_normals[0])), high[:, None]
    )
    sub_low = np.maximum(
        bottom * np.exp(-0.5 * step_sigma[:, None] * np.abs(wick_normals[1])), low[:, None]
    )
    rows = np.arange(len(path))
    sub_high[rows, np.argmax(top, axis=1)] = high
    sub_low[rows, np.argmin(bottom, axis=1)] = low
    return sub_open, sub_high, sub_low, sub_close


@dataclass(frozen=True, slots=True)
class MinuteBars:
    """Minute bars of consecutive hours, shape (hours, 60) per field."""

    hours: IntArray  # global hour index of each row
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    step_sigma: FloatArray  # per-minute volatility of each row's hour, shape (hours,)


def minute_bars(seed: int, path: SymbolPath, first_hour: int, end_hour: int) -> MinuteBars:
    """The minute bars of `path`'s hours in [first_hour, end_hour)."""
    window = path.window(first_hour, end_hour)
    hours = np.arange(window.start, window.stop, dtype=np.int64) + path.first_hour
    open_, close = path.open[window], path.close[window]
    low, high = path.low[window], path.high[window]
    step_sigma = path.sigma[window] / np.sqrt(MINUTES_PER_HOUR)
    minute = np.arange(MINUTES_PER_HOUR, dtype=np.int64)[None, :]
    hour = hours[:, None]
    normals = hashed_normals(stream_key(seed, "minute-path", path.symbol), hour, minute)
    prices = bridged_paths(open_, close, low, high, step_sigma, normals)
    side = np.arange(2, dtype=np.int64)[:, None, None]
    wicks = hashed_normals(stream_key(seed, "minute-wick", path.symbol), side, hour[None], minute)
    m_open, m_high, m_low, m_close = sub_bars(prices, low, high, step_sigma, wicks)
    # Volume splits by exponential weights, heavier on the minutes that moved most.
    exponential = -np.log(
        hashed_uniforms(stream_key(seed, "minute-volume", path.symbol), hour, minute)
    )
    moves = np.abs(np.log(m_close / m_open)) / step_sigma[:, None]
    weights = exponential * (1.0 + moves)
    volume = path.volume[window][:, None] * weights / weights.sum(axis=1, keepdims=True)
    return MinuteBars(hours, m_open, m_high, m_low, m_close, volume, step_sigma)
