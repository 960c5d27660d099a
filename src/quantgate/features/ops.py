"""Vectorised, NaN-aware series operations the blocks are written with.

Every operation here has *finite memory*: the value at row i depends only on
rows [i - reach + 1, i]. That is what makes a feature computed from a warm-up
window equal to the same feature computed from the whole history, so
incremental builds, truncated recomputation (the lookahead check) and live
inference all give the same numbers. Exponential averages are therefore
finite-impulse (the exponential weights cut at `EMA_TRUNCATION` spans and
renormalised over the rows present), never the infinite recursion.

Missing values are NaN in and NaN out; rolling statistics skip missing rows and
need `coverage` of their window present.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy.signal import oaconvolve

FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

EMA_TRUNCATION = 3.0  # an EMA of span s looks back ceil(3 * s) rows (weight left: e^-6)
LN2 = math.log(2.0)


def ema_reach(span: float) -> int:
    return math.ceil(EMA_TRUNCATION * span)


def wilder_span(period: int) -> float:
    """The EMA span with Wilder's smoothing factor 1/period."""
    return 2.0 * period - 1.0


def _series(values: FloatArray) -> pl.Series:
    return pl.Series(values=values, dtype=pl.Float64, nan_to_null=True)


def _out(series: pl.Series) -> FloatArray:
    return np.asarray(series.to_numpy(), dtype=np.float64)


def min_count(window: int, coverage: float) -> int:
    return max(1, min(window, math.ceil(window * coverage)))


def roll_mean(values: FloatArray, window: int, coverage: float) -> FloatArray:
    return _out(_series(values).rolling_mean(window, min_samples=min_count(window, coverage)))


def roll_sum(values: FloatArray, window: int, coverage: float) -> FloatArray:
    return _out(_series(values).rolling_sum(window, min_samples=min_count(window, coverage)))


def roll_std(values: FloatArray, window: int, coverage: float) -> FloatArray:
    needed = max(2, min_count(window, coverage))
    return _out(_series(values).rolling_std(window, min_samples=needed))


def roll_max(values: FloatArray, window: int, coverage: float) -> FloatArray:
    return _out(_series(values).rolling_max(window, min_samples=min_count(window, coverage)))


def roll_min(values: FloatArray, window: int, coverage: float) -> FloatArray:
    return _out(_series(values).rolling_min(window, min_samples=min_count(window, coverage)))


def shift(values: FloatArray, periods: int) -> FloatArray:
    """values[i - periods] at row i (NaN where that row does not exist); negative looks ahead."""
    out = np.full(values.shape, np.nan, dtype=np.float64)
    if periods == 0:
        return values.astype(np.float64, copy=True)
    if abs(periods) >= values.shape[0]:
        return out
    if periods > 0:
        out[periods:] = values[:-periods]
    else:
        out[:periods] = values[-periods:]
    return out


def diff(values: FloatArray, periods: int = 1) -> FloatArray:
    return values - shift(values, periods)


def safe_divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        result = numerator / denominator
    result[~np.isfinite(result)] = np.nan
    return np.asarray(result, dtype=np.float64)


def fir_ema(values: FloatArray, span: float, coverage: float = 0.5) -> FloatArray:
    """Exponential moving average with alpha = 2 / (span + 1), truncated to ema_reach(span) rows.

    Missing rows are left out and the weights renormalised over the rows present;
    the result is NaN when less than `coverage` of the window's weight is present.
    """
    n = values.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.float64)
    alpha = 2.0 / (span + 1.0)
    reach = ema_reach(span)
    weights = (1.0 - alpha) ** np.arange(reach, dtype=np.float64)
    present = np.isfinite(values)
    numerator = oaconvolve(np.where(present, values, 0.0), weights)[:n]
    denominator = oaconvolve(present.astype(np.float64), weights)[:n]
    total = float(weights.sum())
    ok = denominator >= coverage * total
    result = np.full(n, np.nan, dtype=np.float64)
    result[ok] = numerator[ok] / denominator[ok]
    return result


def wilder(values: FloatArray, period: int) -> FloatArray:
    return fir_ema(values, wilder_span(period))


def rsi(log_close: FloatArray, period: int) -> FloatArray:
    """Relative strength in [0, 1]: smoothed gains / (smoothed gains + smoothed losses)."""
    change = diff(log_close)
    gains = np.where(np.isnan(change), np.nan, np.maximum(change, 0.0))
    losses = np.where(np.isnan(change), np.nan, np.maximum(-change, 0.0))
    up = wilder(gains, period)
    down = wilder(losses, period)
    return safe_divide(up, up + down)


def directional(
    log_high: FloatArray, log_low: FloatArray, log_close: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ADX-style +DI, -DI and ADX on log prices (scale-free), Wilder-smoothed."""
    up = diff(log_high)
    down = shift(log_low, 1) - log_low
    valid = np.isfinite(up) & np.isfinite(down)
    plus_dm = np.where(valid, np.where((up > down) & (up > 0), up, 0.0), np.nan)
    minus_dm = np.where(valid, np.where((down > up) & (down > 0), down, 0.0), np.nan)
    previous_close = shift(log_close, 1)
    true_range = np.fmax(
        log_high - log_low,
        np.fmax(np.abs(log_high - previous_close), np.abs(log_low - previous_close)),
    )
    true_range[~np.isfinite(log_high - log_low)] = np.nan
    average_range = wilder(true_range, period)
    plus_di = safe_divide(wilder(plus_dm, period), average_range)
    minus_di = safe_divide(wilder(minus_dm, period), average_range)
    dx = safe_divide(np.abs(plus_di - minus_di), plus_di + minus_di)
    return plus_di, minus_di, wilder(dx, period)


def roll_moments(values: FloatArray, window: int, coverage: float) -> tuple[FloatArray, FloatArray]:
    """Rolling skewness and excess kurtosis (population moments) of `values`."""
    m1 = roll_mean(values, window, coverage)
    r2 = roll_mean(values**2, window, coverage)
    r3 = roll_mean(values**3, window, coverage)
    r4 = roll_mean(values**4, window, coverage)
    variance = r2 - m1**2
    m3 = r3 - 3.0 * m1 * r2 + 2.0 * m1**3
    m4 = r4 - 4.0 * m1 * r3 + 6.0 * m1**2 * r2 - 3.0 * m1**4
    variance = np.where(variance > 1e-30, variance, np.nan)
    return safe_divide(m3, variance**1.5), safe_divide(m4, variance**2) - 3.0


def zscore(values: FloatArray, window: int, coverage: float) -> FloatArray:
    return safe_divide(
        values - roll_mean(values, window, coverage), roll_std(values, window, coverage)
    )


def roll_beta_corr(
    x: FloatArray, y: FloatArray, window: int, coverage: float
) -> tuple[FloatArray, FloatArray]:
    """Rolling beta of x on y and their correlation, over rows where both are present."""
    both = np.isfinite(x) & np.isfinite(y)
    xs = np.where(both, x, np.nan)
    ys = np.where(both, y, np.nan)
    mx = roll_mean(xs, window, coverage)
    my = roll_mean(ys, window, coverage)
    cov = roll_mean(xs * ys, window, coverage) - mx * my
    vx = roll_mean(xs * xs, window, coverage) - mx**2
    vy = roll_mean(ys * ys, window, coverage) - my**2
    vx = np.where(vx > 1e-30, vx, np.nan)
    vy = np.where(vy > 1e-30, vy, np.nan)
    return safe_divide(cov, vy), safe_divide(cov, np.sqrt(vx * vy))
