"""Paper trading is the backtest loop with other ports: fed through a queue by another
thread, on the project database, it trades exactly as the backtest of the same bars."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from engine_builders import HOUR, START, bars, config, frame, run

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.core import Mode, SimulatedClock
from quantgate.engine.backtest import read_json
from quantgate.engine.feeds import FrameBarFeed, QueueFeed
from quantgate.engine.live import SessionConfig, SourcePoller, TradingSession
from quantgate.execution import load_trace
from quantgate.storage import create_db_engine, upgrade

CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100, 100, 110, 120, 130, 125, 118, 110] * 3
COMPARED = ["filled_at", "symbol", "side", "quantity", "price", "fee"]


def test_paper_session_trades_like_the_backtest(tmp_path: Path) -> None:
    bar_frame = frame(bars("AAA", CLOSES), bars("BBB", [c * 0.5 for c in reversed(CLOSES)]))
    backtest = config(["AAA", "BBB"])
    reference = run(tmp_path / "bt", bar_frame, backtest)

    database = create_db_engine(f"sqlite:///{tmp_path / 'project.db'}")
    upgrade(database)
    session_config = SessionConfig.model_validate(
        {
            **backtest.model_dump(
                include={
                    "strategy",
                    "params",
                    "symbols",
                    "capital",
                    "costs",
                    "short_horizon",
                    "portfolio",
                    "instruments",
                }
            ),
            "mode": Mode.PAPER,
            "name": "test",
            "engine": {**backtest.engine.model_dump(), "reconcile_when_idle": True},
            "risk": backtest.risk_limits().model_dump(),
        }
    )
    feed = QueueFeed(["AAA", "BBB"])

    def publish() -> None:
        for event in FrameBarFeed(bar_frame).events():
            feed.put(event)
        feed.close()

    publisher = threading.Thread(target=publish)
    publisher.start()
    session = TradingSession(
        session_config, database, tmp_path / "checkpoint", feed, clock=SimulatedClock(START)
    )
    processed = session.run()
    publisher.join()
    assert processed == len(CLOSES)
    loop = session.loop
    assert loop is not None and loop.mode is Mode.PAPER
    trace = load_trace(database, session_config.scope).sort(["filled_at", "symbol"])
    expected = reference.trades.sort(["filled_at", "symbol"])
    assert trace.height == expected.height > 4
    assert trace["mode"].unique().to_list() == ["paper"]
    assert trace.select(
        "filled_at", "symbol", "side", "quantity", pl.col("fill_price").alias("price"), "fee"
    ).equals(expected.select(COMPARED))
    state = read_json(tmp_path / "checkpoint" / "state.json")
    assert state["cursor"] == loop.cursor.isoformat()
    assert state["portfolio"]["cash"] == str(loop.state.cash)
    database.dispose()


def test_source_poller_publishes_each_closed_bar_once() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    source = SyntheticMarketSource(
        SyntheticMarketConfig(symbols=("BTCUSDT", "ETHUSDT"), start=start, end=start + 48 * HOUR)
    )
    clock = SimulatedClock(start)
    feed = QueueFeed(["BTCUSDT", "ETHUSDT"])
    poller = SourcePoller(source, ["BTCUSDT", "ETHUSDT"], feed, clock, start=start)
    assert poller.poll_once() == 0  # nothing has closed yet
    # Bar k opens at start + k h and is published at start + (k + 1) h + 5 s.
    clock.advance_to(start + 3 * HOUR + timedelta(seconds=5))
    assert poller.poll_once() == 3  # bars 0, 1 and 2
    assert poller.poll_once() == 0
    clock.advance_to(start + 4 * HOUR + timedelta(seconds=4))
    assert poller.poll_once() == 0  # bar 3 is not published yet
    clock.advance_to(start + 4 * HOUR + timedelta(seconds=5))
    assert poller.poll_once() == 1
    feed.close()
    events = list(feed.events())
    assert [[b.symbol for b in e.bars] for e in events] == [["BTCUSDT", "ETHUSDT"]] * 4
    assert [e.bars[0].ts for e in events] == [start + k * HOUR for k in range(4)]
    assert all(e.at == e.bars[0].available_at for e in events)
