"""Every registered strategy runs through the engine on the synthetic market; ml_signal
trades the synthetic market's planted expectation as its predictions."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.core import Horizon
from quantgate.engine.backtest import BacktestConfig, load_predictions, run_backtest
from quantgate.engine.feeds import FrameBarFeed
from quantgate.strategy import strategy_names

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC)
PARAMS = {
    "momentum": {"lookback": 12, "entry_threshold": 0.02},
    "mean_reversion": {"window": 24, "entry_z": 1.5},
    "bracket_momentum": {"lookback": 12, "entry_threshold": 0.02},
    "ensemble": {},
    "pairs": {"window": 48, "entry_z": 1.5, "significance": 0.1},
    "ml_signal": {"min_confidence": 0.5, "horizons": ["1h", "4h"]},
}


@pytest.fixture(scope="module")
def market() -> SyntheticMarketSource:
    return SyntheticMarketSource(
        SyntheticMarketConfig(seed=3, symbols=SYMBOLS, start=START - timedelta(days=30), end=END)
    )


def window_bars(market: SyntheticMarketSource) -> pl.DataFrame:
    return pl.concat([market.fetch_bars(s, START, END) for s in SYMBOLS])


def momentum_config(params: dict[str, object]) -> BacktestConfig:
    """A momentum backtest of the test window over both symbols."""
    config = BacktestConfig.parse(
        {
            "strategy": "momentum",
            "params": params,
            "symbols": list(SYMBOLS),
            "start": START.isoformat(),
            "end": END.isoformat(),
        }
    )
    assert isinstance(config, BacktestConfig)
    return config


def predictions_file(market: SyntheticMarketSource, folder: Path) -> Path:
    frames = []
    for symbol in SYMBOLS:
        for horizon in (Horizon.H1, Horizon.H4):
            planted = market.planted_signal(symbol, horizon)
            frames.append(
                planted.filter(pl.col("decision_at") > START).select(
                    pl.lit(symbol).alias("symbol"),
                    # Known once the bar is published (5 s after its close).
                    (pl.col("decision_at") + pl.duration(seconds=5)).alias("asof"),
                    pl.lit(horizon.value).alias("horizon"),
                    "expected_return",
                    pl.lit(0.7).alias("signal_confidence"),
                    pl.lit(0.01 * horizon.hours**0.5).alias("vol_forecast"),
                )
            )
    path = folder / "predictions.parquet"
    pl.concat(frames).filter(pl.col("asof") < END).write_parquet(path)
    return path


@pytest.mark.parametrize("name", strategy_names())
def test_strategy_runs_through_the_engine(
    name: str, market: SyntheticMarketSource, tmp_path: Path
) -> None:
    bars = pl.concat([market.fetch_bars(s, START, END) for s in SYMBOLS])
    values = {
        "strategy": name,
        "params": PARAMS[name],
        "symbols": list(SYMBOLS),
        "start": START.isoformat(),
        "end": END.isoformat(),
    }
    predictions = []
    if name == "ml_signal":
        path = predictions_file(market, tmp_path)
        values["predictions"] = str(path)
        predictions = load_predictions(path)
    config = BacktestConfig.parse(values)
    assert isinstance(config, BacktestConfig)
    feed = FrameBarFeed(bars, predictions=predictions)  # a given feed is used as it is
    result = run_backtest(config, tmp_path / "home", feed=feed)
    assert result.completed
    engine = result.metrics["engine"]
    assert engine["bars"] == bars.height
    assert engine["signals"] > 0, name
    assert result.metrics["fills"] > 0, name
    if name == "ml_signal":
        assert feed.describe()["predictions"] > 0


def test_ml_signal_without_predictions_is_a_configuration_error() -> None:
    with pytest.raises(Exception, match="predictions"):
        BacktestConfig.parse(
            {
                "strategy": "ml_signal",
                "symbols": ["BTCUSDT"],
                "start": START.isoformat(),
                "end": END.isoformat(),
            }
        )


def test_predictions_load_only_inside_the_window(
    market: SyntheticMarketSource, tmp_path: Path
) -> None:
    path = predictions_file(market, tmp_path)
    every = load_predictions(path)
    middle = START + (END - START) / 2
    inside = load_predictions(path, START + timedelta(days=1), middle)
    assert inside == [p for p in every if START + timedelta(days=1) <= p.asof < middle]
    assert 0 < len(inside) < len(every)


def test_a_grid_folder_is_refused_by_resume_with_a_fix(tmp_path: Path) -> None:
    from quantgate.core import ConfigurationError
    from quantgate.engine.backtest import resume_backtest

    grid = tmp_path / "20250101T000000000000Z-momentum-abcd"
    (grid / "trials" / "000").mkdir(parents=True)
    (grid / "run.json").write_text('{"status": "running", "trials": 2}')
    with pytest.raises(ConfigurationError, match="grid of trials") as raised:
        resume_backtest(grid)
    assert raised.value.field == "--resume"


def test_orders_open_when_the_window_ends_are_cancelled(
    market: SyntheticMarketSource, tmp_path: Path
) -> None:
    bars = window_bars(market)
    # A short lookback with a tiny threshold trades on most bars, the last one too.
    config = momentum_config({"lookback": 2, "entry_threshold": 0.0001, "exit_threshold": 0.0})
    result = run_backtest(config, tmp_path / "home", feed=FrameBarFeed(bars))
    with sqlite3.connect(result.run_dir / "engine.db") as db:
        counts = db.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
    statuses = dict(counts)
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["orders_cancelled_at_end"] > 0
    assert statuses.get("cancelled") == record["orders_cancelled_at_end"]
    assert set(statuses) <= {"filled", "cancelled", "rejected"}


def test_a_run_stopped_from_outside_says_so_and_resumes(
    market: SyntheticMarketSource, tmp_path: Path
) -> None:
    from quantgate.engine.backtest import Backtest, resume_backtest, runs_root

    bars = window_bars(market)
    config = momentum_config(PARAMS["momentum"])
    backtest = Backtest.create(config, runs_root(tmp_path), feed=FrameBarFeed(bars))

    def ctrl_c_midway(done: int, total: int) -> None:
        if done >= total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backtest.run(checkpoint_every=20, progress=ctrl_c_midway)
    record = json.loads((backtest.run_dir / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert record["stopped_by"] == "KeyboardInterrupt"

    resumed = resume_backtest(backtest.run_dir, feed=FrameBarFeed(bars))
    assert resumed.completed
    assert json.loads((backtest.run_dir / "run.json").read_text())["status"] == "complete"
