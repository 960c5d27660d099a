"""Engine checkpoints: everything a restarted loop needs to continue exactly.

The loop's part (`loop_state`) is plain JSON: the cursor (last event processed),
every strategy's checkpoint, the signal book, the book (cash, positions), the
recent closes and last bars, the orders still open, the intents whose children
wait in the schedule (re-planned on restore: planning is deterministic, so the
children keep their client order ids), which strategies caused each waiting child
or open order (told of its fills), the daily-loss watch and the counters. The
equity curve is saved beside it.

The database (outbox, fills, trace, risk state) is the other half. In paper and
live it is the truth and is not copied; the checkpoint notes how far the scope's
fills went (`fills_booked_through`, less the pushed fills still waiting for the book:
`fills_waiting`), and a restart books the fills recorded after that and those waiting,
which a process that stopped before its next checkpoint had booked in a book that is
gone. A backtest owns its database (one file
in the run folder), so its checkpoint also holds a consistent copy of it: a
restart puts that copy back, so orders the crashed process wrote after the
checkpoint do not exist and are sent again exactly as an uninterrupted run would.
A backtest checkpoints only when no order is open: the simulated venue then holds
nothing but its volatility estimates, which the restart rebuilds by replaying
the bars up to the cursor.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Engine

from quantgate.core.clock import ensure_utc
from quantgate.core.enums import Horizon, Mode
from quantgate.core.errors import ConfigurationError, DataError, ProgrammerError
from quantgate.core.types import Bar
from quantgate.engine.portfolio_state import PortfolioState
from quantgate.execution.costs import MarketContext
from quantgate.execution.gateway import FillMark
from quantgate.execution.intent import ExecutionIntent, ExecutionPlan
from quantgate.portfolio.book import SignalBook

if TYPE_CHECKING:
    from quantgate.engine.loop import EquityCurve, TradingLoop

CHECKPOINT_VERSION = 1
STATE_FILE = "state.json"
CURVE_FILE = "curve.parquet"
DB_FILE = "engine.db"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else ensure_utc(datetime.fromisoformat(value))


def _optional_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def loop_state(loop: TradingLoop) -> dict[str, Any]:
    return {
        "version": CHECKPOINT_VERSION,
        "scope": loop.scope,
        "cursor": _time(loop.cursor),
        "strategies": {s.name: s.checkpoint() for s in loop.strategies},
        "signal_book": loop.book.checkpoint(),
        "portfolio": loop.state.checkpoint(),
        "history": loop.history.checkpoint(),
        "last_bars": {
            symbol: [
                bar.ts.isoformat(),
                bar.available_at.isoformat(),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
            ]
            for symbol, bar in sorted(loop.last_bars.items())
        },
        "pending": [
            {**_pending_json(p.intent, p.market), "causes": list(p.causes)}
            for _, p in sorted(loop.pending.items())
        ],
        "order_causes": {
            client_order_id: list(causes)
            for client_order_id, causes in sorted(loop.order_causes.items())
        },
        "targets": {symbol: str(q) for symbol, q in sorted(loop.targets.items())},
        "stats": loop.stats.to_json(),
        # Every fill recorded up to here is in the book above (paper and live commit each
        # unit as it ends; a backtest commits before it checkpoints): a restart books the
        # ones recorded after it, which a crash before the next checkpoint left out.
        **_fill_mark_json(loop.gateway.fill_mark()),
        "risk_watch": {
            "day": None if loop._day is None else loop._day.isoformat(),
            "day_open_equity": _optional_decimal(loop._day_open_equity),
            "day_open_equity_f": loop._day_open_equity_f,
            "anchor_sent": None if loop._anchor_sent is None else loop._anchor_sent.isoformat(),
        },
    }


def _fill_mark_json(mark: FillMark) -> dict[str, Any]:
    return {"fills_booked_through": mark.through, "fills_waiting": list(mark.waiting)}


def _pending_json(intent: ExecutionIntent, market: MarketContext) -> dict[str, Any]:
    return {
        "symbol": intent.instrument.symbol,
        "strategy": intent.strategy,
        "current_quantity": str(intent.current_quantity),
        "target_quantity": str(intent.target_quantity),
        "decision_time": intent.decision_time.isoformat(),
        "decision_price": str(intent.decision_price),
        "horizon": intent.horizon.value,
        "mode": intent.mode.value,
        "market": {
            "venue": market.venue,
            "mid": _optional_decimal(market.mid),
            "bar_volume": _optional_decimal(market.bar_volume),
            "volatility": market.volatility,
            "quoted_spread_bps": market.quoted_spread_bps,
        },
    }


def restore_loop_state(loop: TradingLoop, state: Mapping[str, Any]) -> None:
    from quantgate.engine.loop import LoopStats, PendingIntent

    if state.get("version") != CHECKPOINT_VERSION:
        raise ConfigurationError(
            f"checkpoint version {state.get('version')} is not {CHECKPOINT_VERSION}",
            field="checkpoint.version",
            fix="start the run again from the beginning",
        )
    if state.get("scope") != loop.scope:
        raise ConfigurationError(
            f"checkpoint of scope {state.get('scope')!r} cannot restore scope {loop.scope!r}",
            field="checkpoint.scope",
        )
    try:
        by_name = state["strategies"]
        for strategy in loop.strategies:
            if strategy.name not in by_name:
                raise ConfigurationError(
                    f"checkpoint has no state for strategy {strategy.name!r}",
                    field="checkpoint.strategies",
                )
            strategy.restore(by_name[strategy.name])
        loop.cursor = _parse_time(state["cursor"])
        loop.book = SignalBook.restore(state["signal_book"])
        loop.state = PortfolioState.restore(state["portfolio"])
        loop.history.restore(state["history"])
        loop.last_bars = {
            symbol: Bar(
                symbol,
                datetime.fromisoformat(row[0]),
                datetime.fromisoformat(row[1]),
                float(row[2]),
                float(row[3]),
                float(row[4]),
                float(row[5]),
                float(row[6]),
            )
            for symbol, row in state["last_bars"].items()
        }
        loop.closes = {symbol: bar.close for symbol, bar in loop.last_bars.items()}
        loop._closes_moved()
        loop.open_orders = {}  # re-read from the database when the loop starts
        loop.targets = {symbol: Decimal(q) for symbol, q in state["targets"].items()}
        loop.stats = LoopStats.from_json(state["stats"])
        watch = state["risk_watch"]
        loop._day = None if watch["day"] is None else date.fromisoformat(watch["day"])
        loop._day_open_equity = (
            None if watch["day_open_equity"] is None else Decimal(watch["day_open_equity"])
        )
        loop._day_open_equity_f = float(watch["day_open_equity_f"])
        loop._anchor_sent = (
            None if watch["anchor_sent"] is None else date.fromisoformat(watch["anchor_sent"])
        )
        # A checkpoint from before fills were attributed has no causes: the fills of its
        # orders are still booked, but no strategy is told of them.
        loop.order_causes = {
            client_order_id: tuple(str(name) for name in causes)
            for client_order_id, causes in state.get("order_causes", {}).items()
        }
        watermark = state.get("fills_booked_through")
        loop.fills_booked_through = (
            None
            if watermark is None
            else FillMark(int(watermark), tuple(str(t) for t in state.get("fills_waiting", ())))
        )
        loop.pending = {}
        for entry in state["pending"]:
            intent, market = _pending_from_json(loop, entry)
            _replan(loop, intent, market)
            if any(
                c.order.instrument.symbol == intent.instrument.symbol
                for c in loop.schedule.pending()
            ):
                causes = tuple(str(name) for name in entry.get("causes", ()))
                loop.pending[intent.instrument.symbol] = PendingIntent(intent, market, causes)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise DataError(
            f"malformed engine checkpoint ({type(error).__name__}: {error})",
            field="checkpoint",
        ) from None
    loop._started = False


def _pending_from_json(
    loop: TradingLoop, entry: Mapping[str, Any]
) -> tuple[ExecutionIntent, MarketContext]:
    market = entry["market"]
    intent = ExecutionIntent(
        scope=loop.scope,
        strategy=entry["strategy"],
        instrument=loop.instruments[entry["symbol"]],
        current_quantity=Decimal(entry["current_quantity"]),
        target_quantity=Decimal(entry["target_quantity"]),
        decision_time=datetime.fromisoformat(entry["decision_time"]),
        decision_price=Decimal(entry["decision_price"]),
        horizon=Horizon(entry["horizon"]),
        mode=Mode(entry["mode"]),
    )
    context = MarketContext(
        venue=market["venue"],
        mid=None if market["mid"] is None else Decimal(market["mid"]),
        bar_volume=None if market["bar_volume"] is None else Decimal(market["bar_volume"]),
        volatility=market["volatility"],
        quoted_spread_bps=market["quoted_spread_bps"],
    )
    return intent, context


def _replan(loop: TradingLoop, intent: ExecutionIntent, market: MarketContext) -> None:
    """Put back the children that had not been released when the checkpoint was taken."""
    plan = loop.policies.plan(intent, market)
    cursor = loop.cursor
    waiting = tuple(c for c in plan.children if cursor is None or c.release_at > cursor)
    loop.schedule.add(ExecutionPlan(plan.intent, plan.policy, waiting))


# -- files ------------------------------------------------------------------------------------


def curve_frame(curve: EquityCurve) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": curve.at,
            "equity": curve.equity,
            "cash": curve.cash,
            "gross_exposure": curve.gross,
        },
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "equity": pl.Float64,
            "cash": pl.Float64,
            "gross_exposure": pl.Float64,
        },
    )


def load_curve(frame: pl.DataFrame) -> EquityCurve:
    from quantgate.engine.loop import EquityCurve

    return EquityCurve(
        at=frame["ts"].to_list(),
        equity=frame["equity"].to_list(),
        cash=frame["cash"].to_list(),
        gross=frame["gross_exposure"].to_list(),
    )


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    state: dict[str, Any]
    curve: EquityCurve
    database: Path | None


def copy_sqlite(engine: Engine, target: Path) -> None:
    """A consistent copy of a SQLite database (the online backup API)."""
    if engine.dialect.name != "sqlite":
        raise ProgrammerError("only a SQLite database can be copied into a checkpoint")
    with engine.connect() as connection:
        source = connection.connection.dbapi_connection
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # type: ignore[union-attr]
        finally:
            destination.close()


class CheckpointStore:
    """One checkpoint in a folder, replaced atomically (write aside, then rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def exists(self) -> bool:
        return (self.folder / STATE_FILE).is_file()

    def save(self, loop: TradingLoop, database: Engine | None = None) -> None:
        if database is not None and loop.open_orders:
            raise ProgrammerError("a backtest checkpoints only when no order is open")
        staging = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        curve_frame(loop.curve).write_parquet(staging / CURVE_FILE)
        if database is not None:
            copy_sqlite(database, staging / DB_FILE)
        text = json.dumps(loop.checkpoint(), sort_keys=True, allow_nan=False)
        with (staging / STATE_FILE).open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        previous = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(previous, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(previous)
        staging.rename(self.folder)
        shutil.rmtree(previous, ignore_errors=True)

    def load(self) -> StoredCheckpoint:
        if not self.exists():
            previous = self.folder.with_name(self.folder.name + ".old")
            if (previous / STATE_FILE).is_file():  # crashed between the two renames
                previous.rename(self.folder)
            else:
                raise ConfigurationError(
                    f"no checkpoint in {self.folder}",
                    field="checkpoint",
                    fix="run without resuming",
                )
        state = json.loads((self.folder / STATE_FILE).read_text())
        curve = load_curve(pl.read_parquet(self.folder / CURVE_FILE))
        database = self.folder / DB_FILE
        return StoredCheckpoint(state, curve, database if database.is_file() else None)
