"""Arrays to lake-shaped frames, with the synthetic source's provenance conventions.

`fetched_at` is set to `available_at`: the data is a pure function of the config,
so a wall-clock fetch time would make an idempotent re-ingest of identical rows
look like an update. `available_at` is the first moment the row could have been
fetched, which is what a fetch time stands for.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.adapters.sim.timegrid import time_column
from quantgate.data.schema import BAR_SCHEMA

SOURCE_NAME = "synthetic"

FloatArray = NDArray[np.float64]


def bars_frame(
    symbol: str,
    open_micros: NDArray[np.int64],
    bar_micros: int,
    latency_micros: int,
    prices: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    volume: FloatArray,
) -> pl.DataFrame:
    open_, high, low, close = prices
    available = open_micros + bar_micros + latency_micros
    frame = pl.DataFrame(
        [
            time_column("ts", open_micros),
            time_column("available_at", available),
            pl.Series("open", open_, dtype=pl.Float64),
            pl.Series("high", high, dtype=pl.Float64),
            pl.Series("low", low, dtype=pl.Float64),
            pl.Series("close", close, dtype=pl.Float64),
            pl.Series("volume", volume, dtype=pl.Float64),
            time_column("fetched_at", available),
        ]
    )
    return with_provenance(frame, symbol).select(list(BAR_SCHEMA))


def with_provenance(frame: pl.DataFrame, symbol: str) -> pl.DataFrame:
    return frame.with_columns(
        source=pl.lit(SOURCE_NAME, dtype=pl.String), symbol=pl.lit(symbol, dtype=pl.String)
    )


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
