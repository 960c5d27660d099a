"""A paper session that stops between recording fills and writing its next checkpoint books
those fills when it restarts. The database is the truth in paper and live, but the book is
restored from the checkpoint: before, the fills recorded after it were never booked again
(the venue's fill cursor had moved on and their orders were settled), so the restarted
session traded on a book that lacked them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from engine_builders import START, bars, config, frame

from quantgate.core import Mode, SimulatedClock
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.live import SessionConfig, TradingSession
from quantgate.execution import load_trace
from quantgate.storage import create_db_engine, upgrade

CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100, 100, 110, 120, 130, 125, 118, 110] * 2
# AAA's entry is sent at event 4 (bar 3 closes at 110) and fills in event 5.
BEFORE_THE_FILL = 4


def session_config() -> SessionConfig:
    backtest = config(["AAA", "BBB"])
    fields = {"strategy", "params", "symbols", "capital", "costs", "short_horizon"}
    fields |= {"portfolio", "instruments"}
    return SessionConfig.model_validate(
        {
            **backtest.model_dump(include=fields),
            "mode": Mode.PAPER,
            "name": "restart",
            "engine": {**backtest.engine.model_dump(), "reconcile_when_idle": True},
            "risk": backtest.risk_limits().model_dump(),
        }
    )


def bar_frame() -> pl.DataFrame:
    return frame(bars("AAA", CLOSES), bars("BBB", [c * 0.5 for c in reversed(CLOSES)]))


def session(home: Path, database: Any) -> TradingSession:
    return TradingSession(
        session_config(),
        database,
        home / "checkpoint",
        FrameBarFeed(bar_frame()),
        clock=SimulatedClock(START),
    )


def book(current: TradingSession) -> tuple[Decimal, dict[str, Decimal]]:
    loop = current.loop
    assert loop is not None
    return loop.state.cash, dict(sorted(loop.state.held().items()))


def test_fills_recorded_after_the_last_checkpoint_are_booked_on_restart(tmp_path: Path) -> None:
    # The same session uninterrupted: its book matches its fills the same way.
    whole_db = create_db_engine(f"sqlite:///{tmp_path / 'whole.db'}")
    upgrade(whole_db)
    whole = session(tmp_path / "whole", whole_db)
    whole.run()

    database = create_db_engine(f"sqlite:///{tmp_path / 'project.db'}")
    upgrade(database)
    crashed = session(tmp_path / "crashed", database)
    scope = session_config().scope
    assert crashed.run(max_events=BEFORE_THE_FILL) == BEFORE_THE_FILL  # checkpointed each
    loop = crashed.loop
    assert loop is not None and loop.open_orders  # the entry is out
    booked = load_trace(database, scope).height
    # The next event records the entry's fills; the process dies before its checkpoint.
    assert loop.run(max_events=1) == 1
    lost = load_trace(database, scope).height - booked
    assert lost >= 1

    restarted = session(tmp_path / "crashed", database)
    restarted.build()
    assert "AAA" not in book(restarted)[1]  # the checkpoint's book: before the entry fill
    restarted.run()
    assert restarted.loop is not None
    assert restarted.loop.stats.fills_booked_on_restart == lost
    # The book holds exactly what the recorded fills add up to. (The uninterrupted run is
    # no reference past the crash: the restarted simulated venue has forgotten the orders
    # the dead process left resting, as a real venue would not.)
    assert book(restarted) == from_fills(load_trace(database, scope))
    assert book(whole) == from_fills(load_trace(whole_db, scope))
    database.dispose()
    whole_db.dispose()


def from_fills(trace: pl.DataFrame) -> tuple[Decimal, dict[str, Decimal]]:
    cash = Decimal(session_config().capital)
    held: dict[str, Decimal] = {}
    for side, symbol, quantity, price, fee in trace.select(
        "side", "symbol", "quantity", "fill_price", "fee"
    ).rows():
        sign = 1 if side == "buy" else -1
        cash -= sign * quantity * price + fee
        held[symbol] = held.get(symbol, Decimal(0)) + sign * quantity
    return cash, {s: q for s, q in sorted(held.items()) if q != 0}


def test_a_pushed_fill_waiting_for_the_book_at_the_checkpoint_is_booked_on_restart(
    tmp_path: Path,
) -> None:
    """A venue adapter pushes fills (`gateway.on_fill`) between events; they wait for the
    next poll to reach the book. A checkpoint written while they wait, then a crash: the
    restart must book them, although their rows are below the scope's highest fill id."""
    database = create_db_engine(f"sqlite:///{tmp_path / 'project.db'}")
    upgrade(database)
    crashed = session(tmp_path / "crashed", database)
    scope = session_config().scope
    assert crashed.run(max_events=BEFORE_THE_FILL) == BEFORE_THE_FILL
    loop = crashed.loop
    assert loop is not None and loop.open_orders  # the entry is out
    booked = book(crashed)

    # The venue fills the entry on the next bar and pushes the fills before any poll.
    after = loop.clock.now()
    following = next(iter(FrameBarFeed(bar_frame()).events(after=after)))
    broker = loop.gateway.broker
    broker.on_bars(following.bars)
    entry_ids = set(loop.open_orders)
    pushed = [f for f in broker.fills_since(None).fills if f.client_order_id in entry_ids]
    assert pushed and all(loop.gateway.on_fill(fill) for fill in pushed)
    assert book(crashed) == booked  # waiting for the next poll
    crashed.store.save(loop)  # ... when the process checkpoints and dies

    restarted = session(tmp_path / "crashed", database)
    restarted.build()
    assert book(restarted) == booked
    restarted.run()
    assert restarted.loop is not None
    assert restarted.loop.stats.fills_booked_on_restart == len(pushed)
    assert book(restarted) == from_fills(load_trace(database, scope))
    database.dispose()
