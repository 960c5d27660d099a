"""The profitability gate's figures against an independent numpy computation, on real
backtest run folders written by the engine."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from quantgate.core.errors import DataError
from quantgate.engine.backtest import BacktestConfig, run_backtest
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.metrics import daily_returns
from quantgate.gates.profitability import evaluate_profitability

START = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LATENCY = timedelta(seconds=5)
DAYS = 4


def _closes() -> list[float]:
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 0.02, DAYS * 24)
    return [float(x) for x in 100.0 * np.exp(np.cumsum(steps))]


def _bar_frame(symbol: str, closes: list[float]) -> pl.DataFrame:
    rows = []
    for index, close in enumerate(closes):
        open_ = closes[index - 1] if index else close
        ts = START + HOUR * index
        rows.append(
            {
                "source": "test",
                "symbol": symbol,
                "ts": ts,
                # Known at its close plus a publication latency, like real bars.
                "available_at": ts + HOUR + LATENCY,
                "open": open_,
                "high": max(open_, close),
                "low": min(open_, close),
                "close": close,
                "volume": 1_000_000.0,
            }
        )
    return pl.DataFrame(rows).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"), pl.col("available_at").dt.replace_time_zone("UTC")
    )


def _config() -> BacktestConfig:
    values: dict[str, Any] = {
        "strategy": "momentum",
        "params": {"lookback": 2, "entry_threshold": 0.005, "exit_threshold": 0.0},
        "symbols": ["AAA"],
        "start": START,
        "end": START + timedelta(days=DAYS),
        "capital": "10000",
        "short_horizon": {"order_type": "market"},
        "portfolio": {"allocator": "legacy"},
        "engine": {"capital_fraction": 0.5, "min_trade_weight": 0.0},
        "instruments": {"default_tick_size": "0.01", "default_lot_size": "0.001"},
    }
    parsed = BacktestConfig.parse(values)
    assert isinstance(parsed, BacktestConfig)
    return parsed


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("audit") / "home"
    result = run_backtest(_config(), home, feed=FrameBarFeed(_bar_frame("AAA", _closes())))
    assert result.metrics["fills"] > 2, "the fixture must trade to test anything"
    return Path(result.run_dir)


def test_a_mark_just_after_midnight_closes_the_day_before() -> None:
    # Hourly bars of two whole days known 5 s after their close: the last mark, at
    # 00:00:05 on the 3rd, ends the 2nd; it is not a one-hour 3rd day.
    hours = range(1, 49)
    curve = pl.DataFrame(
        {
            "ts": [START + HOUR * h + LATENCY for h in hours],
            "equity": [100.0 + h for h in hours],
        }
    )
    daily = daily_returns(curve, 100.0)
    assert daily["day"].to_list() == [START.date(), (START + timedelta(days=1)).date()]
    assert daily["ret"].to_list() == pytest.approx([124.0 / 100.0 - 1.0, 148.0 / 124.0 - 1.0])


def test_sharpe_and_sortino_are_those_of_whole_days(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    equity = pl.read_parquet(run_dir / "equity.parquet").sort("ts")["equity"].to_numpy()
    assert len(equity) == DAYS * 24
    # The close of day k is the mark of its last bar, the 24th of the day.
    closes = np.concatenate(([10_000.0], equity[23::24]))
    returns = closes[1:] / closes[:-1] - 1.0
    assert len(returns) == DAYS
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(365)
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    verdict = evaluate_profitability(run_dir)
    assert verdict.figures["days"] == DAYS
    assert verdict.figures["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    if downside > 0:
        sortino = returns.mean() / downside * math.sqrt(365)
        assert verdict.figures["sortino"] == pytest.approx(sortino, rel=1e-9)
    assert metrics["periods"]["days"] == DAYS


def test_spread_and_impact_cost_is_paid_against_the_arrival_mid(run_dir: Path) -> None:
    trace = pl.read_parquet(run_dir / "execution_trace.parquet")
    paid = sum(
        (
            (Decimal(1) if row["side"] == "buy" else Decimal(-1))
            * (row["fill_price"] - row["arrival_mid"])
            * row["quantity"]
            for row in trace.iter_rows(named=True)
        ),
        Decimal(0),
    )
    fees = sum(trace["fee"].to_list(), Decimal(0))
    assert paid > 0, "the fixture must pay a spread to test anything"
    costs = evaluate_profitability(run_dir).figures["costs"]
    assert Decimal(costs["spread_impact_cost"]) == paid
    assert Decimal(costs["total"]) == paid + fees


def test_a_missing_execution_trace_is_a_data_error_naming_it(run_dir: Path, tmp_path: Path) -> None:
    damaged = tmp_path / run_dir.name
    damaged.mkdir()
    for path in run_dir.iterdir():
        if path.is_file() and path.name != "execution_trace.parquet":
            (damaged / path.name).write_bytes(path.read_bytes())
    with pytest.raises(DataError) as caught:
        evaluate_profitability(damaged)
    assert "execution_trace.parquet" in str(caught.value.source)
    assert "re-run the backtest" in str(caught.value.fix)
