"""Hourly and 1-minute bar frames cut from the generated paths."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from quantgate.adapters.sim.frames import bars_frame
from quantgate.adapters.sim.intrahour import minute_bars
from quantgate.adapters.sim.market import SyntheticMarket
from quantgate.adapters.sim.timegrid import (
    MICROS_PER_HOUR,
    MICROS_PER_MINUTE,
    MICROS_PER_SECOND,
    ceil_div,
    floor_div,
    to_micros,
)


def hourly_bars(
    market: SyntheticMarket, symbol: str, start: datetime, end: datetime
) -> pl.DataFrame:
    """Hourly bars with start <= ts < end."""
    config = market.config
    path = market.path(symbol)
    window = path.window(
        ceil_div(start, config.start, MICROS_PER_HOUR), ceil_div(end, config.start, MICROS_PER_HOUR)
    )
    hours = np.arange(window.start, window.stop, dtype=np.int64) + path.first_hour
    return bars_frame(
        symbol,
        to_micros(config.start) + hours * MICROS_PER_HOUR,
        MICROS_PER_HOUR,
        round(config.bar_latency_seconds * MICROS_PER_SECOND),
        (path.open[window], path.high[window], path.low[window], path.close[window]),
        path.volume[window],
    )


def one_minute_bars(
    market: SyntheticMarket, symbol: str, start: datetime, end: datetime
) -> pl.DataFrame:
    """1-minute bars with start <= ts < end; each hour's minutes aggregate to its hourly bar."""
    config = market.config
    origin = to_micros(config.start)
    minutes = minute_bars(
        config.seed,
        market.path(symbol),
        floor_div(start, config.start, MICROS_PER_HOUR),
        ceil_div(end, config.start, MICROS_PER_HOUR),
    )
    opened = (
        origin
        + minutes.hours[:, None] * MICROS_PER_HOUR
        + np.arange(60, dtype=np.int64)[None, :] * MICROS_PER_MINUTE
    ).ravel()
    keep = (opened >= to_micros(start)) & (opened < to_micros(end))
    return bars_frame(
        symbol,
        opened[keep],
        MICROS_PER_MINUTE,
        round(config.bar_latency_seconds * MICROS_PER_SECOND),
        (
            minutes.open.ravel()[keep],
            minutes.high.ravel()[keep],
            minutes.low.ravel()[keep],
            minutes.close.ravel()[keep],
        ),
        minutes.volume.ravel()[keep],
    )
