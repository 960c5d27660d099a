"""Builders for the engine tests: hourly bars from price lists, cost-free configs, a run,
and a plain crypto instrument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from quantgate.core import AssetClass, Bucket, Horizon, Instrument, Mode
from quantgate.engine.backtest import (
    EQUITY_FILE,
    METRICS_FILE,
    TRADES_FILE,
    BacktestConfig,
    read_json,
    run_backtest,
)
from quantgate.engine.feeds import FrameBarFeed
from quantgate.execution import ExecutionIntent

HOUR = timedelta(hours=1)
# The builders' momentum (lookback 2, long only) with 1d signals: a long-horizon plan.
MOMENTUM_1D: dict[str, Any] = {
    "lookback": 2,
    "entry_threshold": 0.05,
    "exit_threshold": 0.0,
    "allow_short": False,
    "horizon": "1d",
}
PUBLICATION = timedelta(seconds=5)
START = datetime(2024, 3, 1, tzinfo=UTC)
D = Decimal


def bars(
    symbol: str,
    closes: Sequence[float],
    *,
    opens: Sequence[float] | None = None,
    start: datetime = START,
    volume: float = 1_000_000.0,
    skip: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """Hourly bars: bar i opens at start + i h, is known at its close + 5 s. `opens`
    defaults to the previous close; high/low span open and close; bars in `skip` are absent."""
    rows = []
    for index, close in enumerate(closes):
        if index in skip:
            continue
        open_ = opens[index] if opens is not None else (closes[index - 1] if index else close)
        ts = start + HOUR * index
        rows.append(
            {
                "source": "test",
                "symbol": symbol,
                "ts": ts,
                "available_at": ts + HOUR + PUBLICATION,
                "open": float(open_),
                "high": float(max(open_, close)),
                "low": float(min(open_, close)),
                "close": float(close),
                "volume": volume,
            }
        )
    return rows


def frame(*groups: list[dict[str, Any]]) -> pl.DataFrame:
    rows = [row for group in groups for row in group]
    return pl.DataFrame(rows).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"), pl.col("available_at").dt.replace_time_zone("UTC")
    )


def config(symbols: Sequence[str], **overrides: Any) -> BacktestConfig:
    """Momentum long-only on a tiny lookback; no spread or impact, taker fee 5 bps ('sim'),
    market orders, tick 0.01 and lot 0.001, legacy allocator, half the equity deployed."""
    values: dict[str, Any] = {
        "strategy": "momentum",
        "params": {
            "lookback": 2,
            "entry_threshold": 0.05,
            "exit_threshold": 0.0,
            "allow_short": False,
        },
        "symbols": list(symbols),
        "start": START,
        "end": START + HOUR * 10_000,
        "capital": "10000",
        "costs": {
            "min_half_spread_bps": 0.0,
            "spread_volatility_coefficient": 0.0,
            "impact_coefficient": 0.0,
        },
        "short_horizon": {"order_type": "market"},
        "portfolio": {"allocator": "legacy"},
        "engine": {"capital_fraction": 0.5, "min_trade_weight": 0.0},
        "instruments": {"default_tick_size": "0.01", "default_lot_size": "0.001"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    parsed = BacktestConfig.parse(values)
    assert isinstance(parsed, BacktestConfig)
    return parsed


@dataclass
class Run:
    path: Path
    trades: pl.DataFrame
    curve: pl.DataFrame
    metrics: dict[str, Any]


def run(home: Path, bar_frame: pl.DataFrame, backtest: BacktestConfig) -> Run:
    result = run_backtest(backtest, home, feed=FrameBarFeed(bar_frame))
    assert result.completed
    return Run(
        result.run_dir,
        pl.read_parquet(result.run_dir / TRADES_FILE),
        pl.read_parquet(result.run_dir / EQUITY_FILE),
        read_json(result.run_dir / METRICS_FILE),
    )


def buy_intent(target: Decimal, price: Decimal, symbol: str = "AAA") -> ExecutionIntent:
    """A 1d paper intent from flat to `target`, decided at `price` at START."""
    return ExecutionIntent(
        scope="paper",
        strategy="momentum",
        instrument=sim_instrument(symbol),
        current_quantity=D(0),
        target_quantity=target,
        decision_time=START,
        decision_price=price,
        horizon=Horizon.D1,
        mode=Mode.PAPER,
    )


def sim_instrument(symbol: str) -> Instrument:
    """A majors-bucket crypto pair on the simulated venue: tick 0.01, lot 0.001."""
    return Instrument(
        symbol,
        "sim",
        AssetClass.CRYPTO_SPOT,
        Bucket.MAJORS,
        D("0.01"),
        D("0.001"),
        date(2020, 1, 1),
    )
