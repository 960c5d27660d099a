"""Small pure indicator functions over a rolling window of closes.

Every function recomputes from the window it is given instead of keeping running
sums: a running sum drifts with floating-point error differently depending on
when a strategy was restarted, and restarts must not change a single signal.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from quantgate.core.enums import Horizon


def as_array(values: Sequence[float]) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def lookback_return(closes: Sequence[float], lookback: int) -> float | None:
    """Simple return from `lookback` bars ago to the last close; None while too short."""
    if len(closes) <= lookback or lookback < 1:
        return None
    then = closes[-1 - lookback]
    if then <= 0:
        return None
    return closes[-1] / then - 1.0


def moving_average(closes: Sequence[float], window: int) -> float | None:
    if len(closes) < window or window < 1:
        return None
    return float(np.mean(as_array(closes)[-window:]))


def zscore(values: Sequence[float]) -> float | None:
    """How many sample standard deviations the last value sits from the window mean."""
    if len(values) < 3:
        return None
    array = as_array(values)
    std = float(np.std(array, ddof=1))
    if not std > 0.0:
        return None
    return (float(array[-1]) - float(np.mean(array))) / std


def realised_vol(closes: Sequence[float]) -> float | None:
    """Per-bar volatility: sample standard deviation of log returns over the window.

    The steps are np.std(np.diff(np.log(closes)), ddof=1)'s own (sum, divide, subtract,
    square, sum, divide, root), written out: the same result to the bit at about half the
    cost, which a strategy pays on every signal.
    """
    count = len(closes)
    if count < 3:
        return None
    # A window is a deque, which has no buffer: packed as doubles and viewed costs a third
    # less than np.fromiter's element-by-element conversion (the same float64 values).
    array = np.frombuffer(struct.pack(f"{count}d", *closes), dtype=np.float64)
    # Some close <= 0, as (array <= 0).any() finds it without building the mask: fmin's
    # smallest close passes over NaNs (which are never <= 0) unless every close is one.
    if np.fmin.reduce(array) <= 0:
        return None
    logs = np.log(array)
    returns = logs[1:] - logs[:-1]
    # np.add.reduce is the pairwise sum ndarray.sum runs, without its Python wrapper.
    deviations = returns - np.add.reduce(returns) / (count - 1)
    deviations *= deviations
    vol = math.sqrt(np.add.reduce(deviations) / (count - 2))
    return vol if vol > 0.0 else None


def scale_to_horizon(
    per_bar_vol: float | None, bar_interval: timedelta | None, horizon: Horizon
) -> float | None:
    """Square-root-of-time scaling from the bar interval to the signal's horizon."""
    if per_bar_vol is None or bar_interval is None or bar_interval.total_seconds() <= 0:
        return None
    bars_per_horizon = horizon.duration.total_seconds() / bar_interval.total_seconds()
    return per_bar_vol * math.sqrt(bars_per_horizon)
