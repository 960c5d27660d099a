"""ml_signal in the engine on real Binance BTCUSDT hours (read from ../shared/data, skipped
when absent), fed predictions built from past bars only, as a model's would be: decided a
minute after the bar they last saw is published.

Costs are set to zero so that a fill's price is exactly the open of the bar it traded in:
which bar fed each order can then be read off the prices, not trusted from timestamps."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from binance_hours import real_bars

from quantgate.core import Horizon, Prediction
from quantgate.engine.backtest import TRADES_FILE, Backtest, BacktestConfig, runs_root
from quantgate.engine.feeds import FrameBarFeed

SYMBOL = "BTCUSDT"
START, END = datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 2, 15, tzinfo=UTC)
DECISION_DELAY = timedelta(minutes=1)
# No prediction is made in this span (a model outage), while positions are open.
OUTAGE = (datetime(2022, 1, 20, 5, tzinfo=UTC), datetime(2022, 1, 23, tzinfo=UTC))
VOL_WINDOW = 48
RUN_ID = "ml-audit"
FREE = {
    "venues": {"sim": {"tier": "free", "tiers": {"free": {"maker_bps": 0, "taker_bps": 0}}}},
    "impact_coefficient": 0.0,
    "spread_volatility_coefficient": 0.0,
    "min_half_spread_bps": 0.0,
}


def trend_predictions(bars: pl.DataFrame, horizons: tuple[Horizon, ...]) -> list[Prediction]:
    """Per bar k, made at bar k's publication plus the decision delay from closes up to
    bar k: expected return over h = half the last h hours' log return, volatility over h =
    the last 48 hourly returns' deviation times sqrt(h hours)."""
    closes = bars.sort("ts")["close"].cast(pl.Float64).to_list()
    published = bars.sort("ts")["available_at"].to_list()
    logs = [math.log(c) for c in closes]
    hourly = [b - a for a, b in itertools.pairwise(logs)]
    longest = max(h.hours for h in horizons)
    made = []
    for k in range(max(longest, VOL_WINDOW), len(closes)):
        asof = published[k] + DECISION_DELAY
        if not START <= asof < END or OUTAGE[0] <= asof < OUTAGE[1]:
            continue
        window = hourly[k - VOL_WINDOW : k]
        mean = sum(window) / VOL_WINDOW
        hourly_vol = math.sqrt(sum((r - mean) ** 2 for r in window) / (VOL_WINDOW - 1))
        expected = {h: 0.5 * (logs[k] - logs[k - h.hours]) for h in horizons}
        made.append(
            Prediction(
                SYMBOL,
                asof,
                expected,
                {h: 0.6 for h in horizons},
                {h: hourly_vol * math.sqrt(h.hours) for h in horizons},
                max_input_available_at=published[k],
            )
        )
    return made


def config(horizons: tuple[Horizon, ...], predictions: Path) -> BacktestConfig:
    parsed = BacktestConfig.parse(
        {
            "strategy": "ml_signal",
            "params": {
                "horizons": [h.value for h in horizons],
                "cost_bps": 10.0,
                "min_edge_bps": 5.0,
                "exposure_per_unit_sharpe": 1.0,
                "rebalance_threshold": 0.1,
            },
            "symbols": [SYMBOL],
            "start": START.isoformat(),
            "end": END.isoformat(),
            "costs": FREE,
            "short_horizon": {"order_type": "market", "follow_ups": 0},
            "predictions": str(predictions),
        }
    )
    assert isinstance(parsed, BacktestConfig)
    return parsed


def prepared(
    shared_data: Path, folder: Path, horizons: tuple[Horizon, ...]
) -> tuple[pl.DataFrame, list[Prediction], BacktestConfig]:
    bars = real_bars(shared_data, SYMBOL, START, END, timedelta(days=8))
    predictions = trend_predictions(bars, horizons)
    # The config must name a predictions file; the feed below is what the run reads.
    path = folder / "predictions.parquet"
    pl.DataFrame({"asof": [p.asof for p in predictions]}).write_parquet(path)
    return bars.filter(pl.col("ts") >= START), predictions, config(horizons, path)


def run(
    bars: pl.DataFrame, predictions: list[Prediction], cfg: BacktestConfig, home: Path
) -> pl.DataFrame:
    feed = FrameBarFeed(bars, predictions=predictions)
    # One run id for every run: client order ids derive from it.
    backtest = Backtest.create(cfg, runs_root(home), feed=feed, run_id=RUN_ID)
    assert backtest.run().completed
    return pl.read_parquet(backtest.run_dir / TRADES_FILE)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def opens_by_hour(bars: pl.DataFrame) -> dict[datetime, float]:
    return dict(zip(bars["ts"].to_list(), bars["open"].cast(pl.Float64).to_list(), strict=True))


@pytest.mark.realdata
def test_a_prediction_trades_only_at_prices_after_the_bar_it_was_made_from(
    shared_data: Path, tmp_path: Path
) -> None:
    horizons = (Horizon.H1, Horizon.H4)
    bars, predictions, cfg = prepared(shared_data, tmp_path, horizons)
    trades = run(bars, predictions, cfg, tmp_path / "home")
    opens = opens_by_hour(bars)
    assert trades.height >= 50
    for trade in trades.iter_rows(named=True):
        decided: datetime = trade["decision_time"]
        # Decided when the bar opened an hour before the decision's hour was published (an
        # exit at HH:00), or a minute later (a prediction at HH:01).
        last_seen = hour_of(decided) - timedelta(hours=1)
        traded_in = hour_of(trade["filled_at"])
        price = float(trade["price"])
        # The price is the open of the bar the fill is stamped in (zero costs, one tick)...
        assert price == pytest.approx(opens[traded_in], abs=0.011)
        # ...and that bar is the one after the bar the decision was made from: market
        # orders trade at the first open not yet known when they were decided.
        assert traded_in == last_seen + timedelta(hours=1)


@pytest.mark.realdata
def test_an_outage_closes_the_position_one_bar_past_its_forecast(
    shared_data: Path, tmp_path: Path
) -> None:
    horizons = (Horizon.H4,)
    bars, predictions, cfg = prepared(shared_data, tmp_path, horizons)
    trades = run(bars, predictions, cfg, tmp_path / "home")
    last_before = max(p.asof for p in predictions if p.asof < OUTAGE[0])
    during = trades.filter(
        (pl.col("filled_at") > last_before) & (pl.col("filled_at") < OUTAGE[1])
    ).sort("filled_at")
    held = trades.filter(pl.col("filled_at") <= last_before)["position_after"].to_list()[-1]
    assert held != 0, "the outage must begin with a position open to test anything"
    # The last prediction, made at 04:01 from the 03:00 bar, covers 4 h: to 08:01. One
    # order in the whole outage, the exit: decided at the first bar published at or after
    # 08:01 (the 08:00 bar, published at 09:00) and filled at the 09:00 open. The position
    # is held one bar past its forecast, never longer.
    assert last_before == datetime(2022, 1, 20, 4, 1, tzinfo=UTC)
    [exit_fill] = during.iter_rows(named=True)
    assert exit_fill["position_after"] == 0
    assert exit_fill["decision_time"] == datetime(2022, 1, 20, 9, tzinfo=UTC)
    assert exit_fill["filled_at"] == datetime(2022, 1, 20, 9, tzinfo=UTC)


@pytest.mark.realdata
def test_an_outage_closes_a_daily_forecast_position_at_once_not_in_slices(
    shared_data: Path, tmp_path: Path
) -> None:
    bars, predictions, cfg = prepared(shared_data, tmp_path, (Horizon.D1,))
    trades = run(bars, predictions, cfg, tmp_path / "home")
    expired = datetime(2022, 1, 21, 4, 1, tzinfo=UTC)  # the 04:01 forecast of the day before
    after = trades.filter((pl.col("filled_at") > expired) & (pl.col("filled_at") < OUTAGE[1])).sort(
        "filled_at"
    )
    held = trades.filter(pl.col("filled_at") <= expired)["position_after"].to_list()[-1]
    assert held != 0, "the outage must expire a 1d forecast with a position open"
    # Decided at the first bar published past the expiry (the 04:00 bar, at 05:00) and
    # filled whole at the 05:00 open. Before: six TWAP slices, flat only at 10:00.
    [exit_fill] = after.iter_rows(named=True)
    assert exit_fill["decision_time"] == datetime(2022, 1, 21, 5, tzinfo=UTC)
    assert exit_fill["filled_at"] == datetime(2022, 1, 21, 5, tzinfo=UTC)
    assert exit_fill["position_after"] == 0
    assert float(exit_fill["quantity"]) == pytest.approx(abs(float(held)))


@pytest.mark.realdata
def test_a_restart_mid_run_places_the_orders_of_an_uninterrupted_run(
    shared_data: Path, tmp_path: Path
) -> None:
    horizons = (Horizon.H1, Horizon.H4, Horizon.D1, Horizon.D7)
    bars, predictions, cfg = prepared(shared_data, tmp_path, horizons)
    whole = run(bars, predictions, cfg, tmp_path / "whole")

    root = runs_root(tmp_path / "restarted")
    first = Backtest.create(
        cfg, root, feed=FrameBarFeed(bars, predictions=predictions), run_id=RUN_ID
    )
    stopped = first.run(checkpoint_every=97, stop_after_events=1100)
    assert not stopped.completed
    assert first.database is not None
    first.database.dispose()
    resumed = Backtest.open(first.run_dir, feed=FrameBarFeed(bars, predictions=predictions))
    assert resumed.run(resume=True, checkpoint_every=97).completed
    again = pl.read_parquet(resumed.run_dir / TRADES_FILE)

    columns: list[Any] = [
        "filled_at",
        "decision_time",
        "client_order_id",
        "side",
        pl.col("quantity").cast(pl.Float64),
        pl.col("price").cast(pl.Float64),
    ]
    assert whole.height >= 100
    assert again.select(columns).equals(whole.select(columns))
