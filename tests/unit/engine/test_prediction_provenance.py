"""A predictions file's `max_input_available_at` per (symbol, asof) is the latest over its
horizons' rows (each horizon's model may have read later inputs), not the first row's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from quantgate.engine.backtest import load_predictions

ASOF = datetime(2025, 3, 1, 12, 1, tzinfo=UTC)


def test_the_latest_input_arrival_over_the_horizons_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "predictions.parquet"
    pl.DataFrame(
        {
            "symbol": ["BTCUSDT"] * 3 + ["ETHUSDT"],
            "asof": [ASOF] * 4,
            "horizon": ["1h", "4h", "1d", "1h"],
            "expected_return": [0.001, 0.002, 0.01, -0.001],
            "signal_confidence": [0.6, 0.6, 0.7, 0.55],
            "vol_forecast": [0.01, 0.02, 0.05, 0.01],
            "max_input_available_at": [
                ASOF - timedelta(minutes=30),
                ASOF + timedelta(minutes=5),  # the 4h model read an input from the future
                ASOF - timedelta(hours=2),
                None,
            ],
        }
    ).write_parquet(path)

    by_symbol = {p.symbol: p for p in load_predictions(path)}

    assert by_symbol["BTCUSDT"].max_input_available_at == ASOF + timedelta(minutes=5)
    assert by_symbol["ETHUSDT"].max_input_available_at is None
