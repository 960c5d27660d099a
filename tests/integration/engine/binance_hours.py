"""Real Binance hourly candles from ../shared/data as the engine's bar frame (the test is
skipped when the file is absent): each bar is known an hour after it opens."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest


def real_bars(
    shared_data: Path, symbol: str, start: datetime, end: datetime, warmup: timedelta
) -> pl.DataFrame:
    path = shared_data / "binance_spot_1h" / f"{symbol}_1h.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    ts = pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    return (
        pl.read_csv(path)
        .with_columns(ts.alias("ts"), pl.lit(symbol).alias("symbol"))
        .with_columns((pl.col("ts") + pl.duration(hours=1)).alias("available_at"))
        .filter((pl.col("ts") >= start - warmup) & (pl.col("ts") < end))
    )
