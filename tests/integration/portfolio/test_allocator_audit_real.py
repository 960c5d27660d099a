"""allocator_v2 on real Binance hours (read from ../shared/data, skipped when absent): the
risk model the engine builds from 60 days of closes to 2022-03-01, and signals whose vol
forecasts are the last 72 hours' realised vol scaled to their horizon, as strategies give it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantgate.core import Horizon, Signal
from quantgate.engine.history import MarketHistory
from quantgate.portfolio import AllocationResult, AllocatorV2, AllocatorV2Config, RiskModel
from quantgate.strategy.indicators import realised_vol, scale_to_horizon

SYMBOLS = ("BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT")
END = datetime(2022, 3, 1, tzinfo=UTC)
WINDOW = 24 * 60 + 1


def real_closes(shared_data: Path) -> dict[str, list[float]]:
    closes = {}
    ts = pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    for symbol in SYMBOLS:
        path = shared_data / "binance_spot_1h" / f"{symbol}_1h.csv.gz"
        if not path.is_file():
            pytest.skip(f"{path} is absent")
        frame = pl.read_csv(path).with_columns(ts.alias("ts"))
        window = (pl.col("ts") >= END - timedelta(hours=WINDOW)) & (pl.col("ts") < END)
        closes[symbol] = frame.filter(window).sort("ts")["close"].to_list()
    return closes


@pytest.fixture
def market(shared_data: Path) -> tuple[dict[str, list[float]], RiskModel]:
    closes = real_closes(shared_data)
    history = MarketHistory(WINDOW)
    for symbol, series in closes.items():
        for close in series:
            history.append(symbol, close)
    model = history.risk_model(list(SYMBOLS), Horizon.D1)
    assert model is not None
    return closes, model


def signal(
    closes: dict[str, list[float]],
    symbol: str,
    exposure: float,
    strength: float,
    *,
    horizon: Horizon = Horizon.D1,
    strategy: str = "momentum",
    group: str | None = None,
) -> Signal:
    vol = scale_to_horizon(realised_vol(closes[symbol][-72:]), timedelta(hours=1), horizon)
    return Signal(
        symbol=symbol,
        asof=END,
        strategy=strategy,
        target_exposure=exposure,
        strength=strength,
        horizon=horizon,
        reason="audit",
        vol_forecast=vol,
        group=group,
    )


def allocate(signals: list[Signal], model: RiskModel, **config: float) -> AllocationResult:
    return AllocatorV2(AllocatorV2Config(**config)).allocate(signals, model)


@pytest.mark.realdata
def test_of_two_correlated_longs_the_stronger_is_kept(
    market: tuple[dict[str, list[float]], RiskModel],
) -> None:
    closes, model = market
    assert model.correlation_of("BTCUSDT", "ETHUSDT") == pytest.approx(0.893, abs=1e-3)
    assert model.correlation_of("BTCUSDT", "DOGEUSDT") == pytest.approx(0.753, abs=1e-3)
    for strong, weak in (("BTCUSDT", "ETHUSDT"), ("ETHUSDT", "BTCUSDT")):
        result = allocate(
            [signal(closes, strong, 1.0, 0.8), signal(closes, weak, 1.0, 0.4)],
            model,
            correlation_threshold=0.85,
        )
        assert result.target_weights[weak] == 0.0 and result.target_weights[strong] > 0.0
        (dedup,) = [c for c in result.bound_constraints if c.name == "correlation_dedup"]
        assert dedup.symbol == weak and f"on {strong}" in dedup.detail
    # A long and a short in the same pair is a hedge; DOGE is below the threshold.
    hedge = allocate(
        [signal(closes, "BTCUSDT", 1.0, 0.8), signal(closes, "ETHUSDT", -1.0, 0.4)],
        model,
        correlation_threshold=0.85,
    )
    assert hedge.target_weights["ETHUSDT"] < 0.0 < hedge.target_weights["BTCUSDT"]
    apart = allocate(
        [signal(closes, "BTCUSDT", 1.0, 0.8), signal(closes, "DOGEUSDT", 1.0, 0.4)],
        model,
        correlation_threshold=0.85,
    )
    assert not [c for c in apart.bound_constraints if c.name == "correlation_dedup"]


@pytest.mark.realdata
def test_the_budget_binds_at_the_daily_vol_whatever_the_signals_horizon(
    market: tuple[dict[str, list[float]], RiskModel],
) -> None:
    closes, model = market
    loose = {"max_weight_per_symbol": 3.0, "default_bucket_cap": 10.0, "max_gross": 10.0}
    weights = []
    for horizon in (Horizon.H1, Horizon.H4, Horizon.D1):
        signals = [
            signal(closes, "BTCUSDT", 1.0, 0.8, horizon=horizon),
            signal(closes, "DOGEUSDT", -1.0, 0.5, horizon=horizon),
            signal(closes, "SOLUSDT", 1.0, 0.6, horizon=horizon),
        ]
        result = allocate(signals, model, risk_budget=0.02, **loose)
        symbols = sorted(result.target_weights)
        w = np.array([result.target_weights[s] for s in symbols])
        # Each forecast rescaled by √time to a day, as the risk model's returns are daily.
        daily = {s.symbol: s.vol_forecast * math.sqrt(24 / s.horizon.hours) for s in signals}
        covariance = model.with_vols(daily).covariance(symbols)
        assert math.sqrt(float(w @ covariance @ w)) == pytest.approx(0.02, rel=1e-6)
        assert [c.name for c in result.bound_constraints] == ["risk_budget"]
        weights.append(w)
    assert weights[0] == pytest.approx(weights[2], rel=1e-6)
    assert weights[1] == pytest.approx(weights[2], rel=1e-6)


@pytest.mark.realdata
def test_a_cap_on_a_lone_sol_long_and_a_pair_s_sol_short_says_what_sol_holds(
    market: tuple[dict[str, list[float]], RiskModel],
) -> None:
    closes, model = market
    signals = [
        signal(closes, "SOLUSDT", 1.0, 0.9),
        signal(closes, "BTCUSDT", 0.4, 0.7, strategy="pairs", group="pair:BTC/SOL"),
        signal(closes, "SOLUSDT", -0.6, 0.7, strategy="pairs", group="pair:BTC/SOL"),
    ]
    result = allocate(signals, model, risk_budget=0.05)
    held = abs(result.target_weights["SOLUSDT"])
    (cap,) = [c for c in result.bound_constraints if c.name == "symbol_cap"]
    assert (cap.symbol, cap.after) == ("SOLUSDT", pytest.approx(0.25, rel=1e-6))
    assert held < 0.1
    assert f"net to {held:.6g}" in cap.detail
