"""The synthetic market's clock arithmetic: global hour indices from the configured start.

Hour `k` is the bar opening at `start + k hours`; all generation is indexed this
way so a value's identity never depends on the range that was requested.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.core.clock import ensure_utc
from quantgate.data.schema import UTC_TIME

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact, unlike float timestamps)."""
    return (ensure_utc(moment) - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def floor_div(moment: datetime, origin: datetime, step_micros: int) -> int:
    """Index of the step containing `moment` (negative before the origin)."""
    return (to_micros(moment) - to_micros(origin)) // step_micros


def ceil_div(moment: datetime, origin: datetime, step_micros: int) -> int:
    """Index of the first step starting at or after `moment`."""
    return -((to_micros(origin) - to_micros(moment)) // step_micros)


def time_column(name: str, micros: NDArray[np.int64]) -> pl.Series:
    return pl.Series(name, micros, dtype=pl.Int64).cast(UTC_TIME)
