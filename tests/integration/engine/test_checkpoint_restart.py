"""Restarting mid-backtest from a checkpoint ends in the same state as an uninterrupted run.

The interrupted run happens in another process, which stops (as a crash would) well after
its last checkpoint, with orders in its database that the checkpoint never saw. The
restart builds every object anew from the run folder and continues.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.data.ingest import ingest_bars
from quantgate.engine.backtest import (
    DB_FILE,
    EQUITY_FILE,
    METRICS_FILE,
    TRADES_FILE,
    BacktestConfig,
    read_json,
    resume_backtest,
    run_backtest,
    runs_root,
)
from quantgate.storage import Lake, create_db_engine, upgrade

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
STOP_AFTER = 450  # events; the window has 744
CHECKPOINT_EVERY = 100

# What the interrupted process runs: a fresh backtest that stops after STOP_AFTER events.
CRASHING = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    import structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from quantgate.engine.backtest import Backtest, BacktestConfig, runs_root
    from quantgate.storage import Lake
    lake_root, home, config_json, stop, every = sys.argv[1:6]
    config = BacktestConfig.model_validate(json.loads(config_json))
    backtest = Backtest.create(config, runs_root(Path(home)), lake=Lake(Path(lake_root)),
                               run_id="interrupted")
    result = backtest.run(checkpoint_every=int(every), stop_after_events=int(stop))
    assert not result.completed
    print(json.dumps({"cursor": backtest.loop.cursor.isoformat(),
                      "open_orders": len(backtest.loop.open_orders),
                      "fills": backtest.loop.state.fill_count}))
    """
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("lake"))
    source = SyntheticMarketSource(
        SyntheticMarketConfig(
            seed=21, symbols=SYMBOLS, start=datetime(2024, 12, 1, tzinfo=UTC), end=END
        )
    )
    for symbol in SYMBOLS:
        ingest_bars(lake, source.fetch_bars(symbol, START, END), origin="test")
    return lake


def backtest_config(**values: Any) -> BacktestConfig:
    config = BacktestConfig.parse(
        {
            "strategy": "momentum",
            "symbols": list(SYMBOLS),
            "start": START.isoformat(),
            "end": END.isoformat(),
            **values,
        }
    )
    assert isinstance(config, BacktestConfig)
    return config


COMPARED = [
    "filled_at",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "decision_time",
    "decision_price",
    "horizon",
    "policy",
    "position_after",
    "realized_pnl",
    "cash_after",
]
SAME_METRICS = [
    "final_equity",
    "net_pnl",
    "cash",
    "positions",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "round_trips",
    "hit_rate",
    "sharpe",
    "max_drawdown",
]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(
            {
                "params": {"lookback": 24, "entry_threshold": 0.06, "exit_threshold": 0.01},
                "portfolio": {"allocator": "legacy"},
            },
            id="1h-marketable-limits-legacy",
        ),
        pytest.param(
            {
                "params": {
                    "lookback": 48,
                    "entry_threshold": 0.08,
                    "exit_threshold": 0.01,
                    "horizon": "1d",
                },
                "long_horizon": {"slices": 3},
            },
            id="1d-twap-allocator_v2",
        ),
    ],
)
def test_restart_from_checkpoint_matches_an_uninterrupted_run(
    lake: Lake, tmp_path: Path, values: dict[str, Any]
) -> None:
    config = backtest_config(**values)
    whole = run_backtest(config, tmp_path / "a", lake=lake)
    assert whole.completed

    home = tmp_path / "b"
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING,
            str(lake.root),
            str(home),
            config.model_dump_json(),
            str(STOP_AFTER),
            str(CHECKPOINT_EVERY),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert crashed.returncode == 0, crashed.stderr
    at_crash = json.loads(crashed.stdout.strip().splitlines()[-1])
    run_dir = runs_root(home) / "interrupted"
    checkpoint = read_json(run_dir / "checkpoint" / "state.json")
    # The crash came after the checkpoint, with trades the checkpoint does not know about.
    assert checkpoint["cursor"] < at_crash["cursor"]
    assert checkpoint["portfolio"]["fill_count"] < at_crash["fills"]
    if values.get("long_horizon"):
        # TWAP slices were still waiting in the schedule: the restart re-plans them.
        assert checkpoint["pending"]

    resumed = resume_backtest(run_dir, lake=lake)
    assert resumed.completed

    trades_a = pl.read_parquet(whole.run_dir / TRADES_FILE)
    trades_b = pl.read_parquet(run_dir / TRADES_FILE)
    assert trades_a.height > 20
    assert trades_a.select(COMPARED).equals(trades_b.select(COMPARED))
    assert pl.read_parquet(whole.run_dir / EQUITY_FILE).equals(
        pl.read_parquet(run_dir / EQUITY_FILE)
    )
    metrics_a = read_json(whole.run_dir / METRICS_FILE)
    metrics_b = read_json(run_dir / METRICS_FILE)
    assert {k: metrics_a[k] for k in SAME_METRICS} == {k: metrics_b[k] for k in SAME_METRICS}
    for key in ("signals", "intents", "submits", "denials"):
        assert metrics_a["engine"][key] == metrics_b["engine"][key]
    assert not (run_dir / "checkpoint").exists()
    # The indexes held back while running were built again, in both runs.
    migrated = index_sql(tmp_path / "migrated.sqlite", migrate=True)
    assert index_sql(whole.run_dir / DB_FILE) == migrated
    assert index_sql(run_dir / DB_FILE) == migrated


def index_sql(path: Path, *, migrate: bool = False) -> set[tuple[str, str]]:
    engine = create_db_engine(f"sqlite:///{path}")
    if migrate:
        upgrade(engine)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        found = {(str(name), str(sql)) for name, sql in rows}
    engine.dispose()
    return found
