"""Backtests: the one loop with a simulated clock, a bar feed and the simulated broker.

A backtest writes a run folder under `$QG_HOME/runs/backtest/<run_id>/`:

    config.json              the full BacktestConfig (its hash is the config hash)
    run.json                 run id, status, times, config hash, strategy and params,
                             symbols and window, input data (sources, partition sha256s
                             and their manifest hash), git SHA
    engine.db                the run's own SQLite database: outbox, fills, trace, risk
                             decisions (so the project database is not flooded)
    checkpoint/              the latest checkpoint (see engine.checkpoint) while running
    trades.parquet           one row per fill with the book after it
    execution_trace.parquet  the execution trace (same columns as paper and live)
    equity.parquet           equity, cash and gross exposure after every event
    metrics.json             performance, costs and round trips, in total and by
                             symbol, bucket and horizon; engine counters; throughput

Run folders are the record of backtests ("latest" is the newest folder); no
table lists them. The run's database is the same gateway, risk gate and outbox
code as paper and live, on a file of its own. Its ledger commits when a checkpoint
is taken and when the run stops (`Durability.AT_COMMIT`): each order is in the
database's transaction before the simulated broker sees it, and a crash falls back to
the checkpoint's copy of the database anyway.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import structlog
from pydantic import Field, field_validator, model_validator
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from quantgate.config.base import ComponentConfig
from quantgate.core.clock import SimulatedClock, ensure_utc
from quantgate.core.enums import Horizon, Side
from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.core.types import Fill, Prediction
from quantgate.engine.checkpoint import CheckpointStore, curve_frame
from quantgate.engine.config import EngineConfig
from quantgate.engine.feeds import FrameBarFeed, LakeBarFeed, bars_digest
from quantgate.engine.gc_policy import batch_collection
from quantgate.engine.instruments import InstrumentsConfig
from quantgate.engine.loop import TradingLoop
from quantgate.engine.metrics import curve_figures, trade_figures
from quantgate.engine.portfolio_state import PortfolioState, price_decimal
from quantgate.engine.provenance import git_dirty, git_sha
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.engine.slice_room import slice_room_error
from quantgate.execution.config import (
    CostModelConfig,
    GatewayConfig,
    LongHorizonConfig,
    ShortHorizonConfig,
    SimBrokerConfig,
)
from quantgate.execution.costs import StandardCostModel
from quantgate.execution.gateway import OrderGateway
from quantgate.execution.policies import LongHorizonExec, PolicyBook, ShortHorizonExec
from quantgate.execution.trace import load_trace
from quantgate.portfolio.selection import PortfolioConfig
from quantgate.risk.config import RiskLimits
from quantgate.risk.context import RiskContext
from quantgate.risk.gate import RiskGate
from quantgate.storage.checkpoints import Checkpoints
from quantgate.storage.db import create_db_engine
from quantgate.storage.deferred_indexes import build_indexes, hold_back_indexes
from quantgate.storage.lake import Lake, file_sha256
from quantgate.storage.ledger import Durability, ScopeLedger
from quantgate.storage.migrate import upgrade
from quantgate.storage.models import FillRow, OrderRow
from quantgate.strategy.registry import build_strategy, required_symbols, strategy_config

log = structlog.get_logger(__name__)

RUNS_SUBDIR = Path("runs") / "backtest"
CONFIG_FILE = "config.json"
RUN_FILE = "run.json"
DB_FILE = "engine.db"
CHECKPOINT_DIR = "checkpoint"
TRADES_FILE = "trades.parquet"
TRACE_FILE = "execution_trace.parquet"
EQUITY_FILE = "equity.parquet"
METRICS_FILE = "metrics.json"
RUN_FILES = (CONFIG_FILE, RUN_FILE, TRADES_FILE, TRACE_FILE, EQUITY_FILE, METRICS_FILE)

_MONEY = pl.Decimal(38, 18)
TRADES_SCHEMA: dict[str, Any] = {
    "filled_at": pl.Datetime("us", "UTC"),
    "trade_id": pl.String,
    "client_order_id": pl.String,
    "strategy": pl.String,
    "symbol": pl.String,
    "bucket": pl.String,
    "horizon": pl.String,
    "policy": pl.String,
    "side": pl.String,
    "quantity": _MONEY,
    "price": _MONEY,
    "fee": _MONEY,
    "notional": _MONEY,
    "decision_time": pl.Datetime("us", "UTC"),
    "decision_price": _MONEY,
    "position_after": _MONEY,
    "average_price_after": _MONEY,
    "realized_delta": _MONEY,
    "realized_pnl": _MONEY,
    "cash_after": _MONEY,
}

Progress = Callable[[int, int], None]


def backtest_risk_limits(capital: Decimal) -> RiskLimits:
    """Limits for a backtest that only catch bugs (runaway sizing, looping orders).

    Every notional limit and the daily loss are 10 000 × the initial capital: far above
    what the allocator asks for even after the book has grown a hundredfold, so they
    bind only on a bug. (A fixed limit near the initial capital would deny orders, or
    latch the gate for good, once the book has grown, and quietly change the strategy.)
    Give `risk` in the config to backtest with production limits; every denial is
    counted in metrics.json (`engine.denials`).
    """
    wide = capital * 10_000
    return RiskLimits(
        max_order_notional=wide,
        max_symbol_notional=wide,
        default_max_bucket_notional=wide,
        max_gross_notional=wide,
        max_daily_loss=wide,
        max_orders_per_window=10_000,
        max_executions_per_strategy_symbol=10_000,
    )


class BacktestConfig(ComponentConfig):
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: tuple[str, ...]
    start: datetime
    end: datetime
    # The bar source per symbol; None picks the one with the most bars in the window.
    source: str | None = None
    dataset: str = "bars_1h"
    capital: Decimal = Field(Decimal(100_000), gt=0)
    costs: CostModelConfig = Field(default_factory=CostModelConfig)
    broker: SimBrokerConfig = Field(default_factory=SimBrokerConfig)
    short_horizon: ShortHorizonConfig = Field(default_factory=ShortHorizonConfig)
    long_horizon: LongHorizonConfig = Field(default_factory=LongHorizonConfig)
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    risk: RiskLimits | None = None
    instruments: InstrumentsConfig = Field(default_factory=InstrumentsConfig)
    # A Parquet file of model predictions (for ml_signal): one row per (symbol, asof,
    # horizon) with expected_return, signal_confidence and vol_forecast.
    predictions: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must be timezone-aware UTC")
        return value.astimezone(UTC)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one symbol")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _check(self) -> BacktestConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        strategy_config(self.strategy, self.params)  # names the bad parameter and the fix
        missing = [s for s in required_symbols(self.strategy, self.params) if s not in self.symbols]
        if missing:
            raise ValueError(
                f"strategy {self.strategy} is set to trade {', '.join(missing)}, which the "
                "backtest does not feed: add them to the symbols (--symbols) or change the "
                "strategy's own symbols or pairs"
            )
        room_error = None if self.risk is None else slice_room_error(self.long_horizon, self.risk)
        if room_error is not None:
            raise ValueError(room_error)
        if self.strategy == "ml_signal" and not self.predictions:
            raise ValueError(
                "ml_signal trades model predictions: give a predictions Parquet file "
                "(quantgate backtest --predictions FILE)"
            )
        return self

    def risk_limits(self) -> RiskLimits:
        return self.risk or backtest_risk_limits(self.capital)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    run_id: str
    run_dir: Path
    completed: bool
    metrics: dict[str, Any]


def runs_root(home: Path) -> Path:
    return Path(home) / RUNS_SUBDIR


def new_run_id(strategy: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{strategy}-{uuid.uuid4().hex[:4]}"


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _write_json(path: Path, payload: Any) -> None:
    temporary = path.with_name(f".tmp-{path.name}")
    text = json.dumps(payload, indent=2, default=json_default, allow_nan=False)
    temporary.write_text(text + "\n")
    temporary.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def run_database(path: Path) -> Engine:
    """The run's own SQLite file. Durability is the checkpoint's job (a consistent copy),
    so commits do not wait for the disk."""
    engine = create_db_engine(f"sqlite:///{path}")

    # Before the engine's own pragmas: a page size only takes on a new file, before WAL.
    # A run's tables are append-mostly; larger pages mean fewer page splits and writes.
    @event.listens_for(engine, "connect", insert=True)
    def _large_pages(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_size=16384")
        cursor.close()

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return engine


PREDICTION_COLUMNS = (
    "symbol",
    "asof",
    "horizon",
    "expected_return",
    "signal_confidence",
    "vol_forecast",
)


def read_predictions(path: Path) -> pl.DataFrame:
    """The predictions table, checked: a readable Parquet file with every column."""
    fix = (
        "give a Parquet file with columns " + ", ".join(PREDICTION_COLUMNS) + " (one row per "
        "symbol, asof and horizon), e.g. from `quantgate ml predict`"
    )
    if not path.is_file():
        raise ConfigurationError(f"no predictions file at {path}", field="--predictions", fix=fix)
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise ConfigurationError(
            f"cannot read {path} as Parquet ({error})", field="--predictions", fix=fix
        ) from None
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigurationError(
            f"{path} lacks the column(s) {', '.join(missing)}", field="--predictions", fix=fix
        )
    known = {h.value for h in Horizon}
    unknown = sorted(set(frame["horizon"].cast(pl.Utf8).to_list()) - known)
    if unknown:
        raise ConfigurationError(
            f"{path} has unknown horizon(s) {', '.join(map(str, unknown))}",
            field="--predictions",
            fix=f"use horizons among {', '.join(sorted(known))}",
        )
    return frame


def load_predictions(
    path: Path, start: datetime | None = None, end: datetime | None = None
) -> list[Prediction]:
    """Predictions from a long Parquet table (symbol, asof, horizon, expected_return,
    signal_confidence, vol_forecast[, max_input_available_at]) made in [start, end)."""
    frame = read_predictions(path).sort(["asof", "symbol", "horizon"])
    grouped: dict[tuple[str, datetime], dict[str, Any]] = {}
    for row in frame.iter_rows(named=True):
        asof = ensure_utc(row["asof"])
        # A prediction outside the window would make events, and equity, past its end.
        if (start is not None and asof < start) or (end is not None and asof >= end):
            continue
        key = (row["symbol"], asof)
        entry = grouped.setdefault(key, {"er": {}, "conf": {}, "vol": {}, "max": None})
        # A horizon's row may come from a model with later inputs: the latest of them all.
        arrived = row.get("max_input_available_at")
        if arrived is not None:
            arrived = ensure_utc(arrived)
            entry["max"] = arrived if entry["max"] is None else max(entry["max"], arrived)
        horizon = Horizon(row["horizon"])
        entry["er"][horizon] = float(row["expected_return"])
        entry["conf"][horizon] = float(row["signal_confidence"])
        entry["vol"][horizon] = float(row["vol_forecast"])
    return [
        Prediction(
            symbol=symbol,
            asof=asof,
            expected_return=entry["er"],
            signal_confidence=entry["conf"],
            vol_forecast=entry["vol"],
            max_input_available_at=entry["max"],
        )
        for (symbol, asof), entry in grouped.items()
    ]


class Backtest:
    """One run folder: create it, run it (with checkpoints), resume it, finish it."""

    def __init__(
        self,
        config: BacktestConfig,
        run_dir: Path,
        *,
        lake: Lake | None = None,
        feed: FrameBarFeed | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.run_id = self.run_dir.name
        self.scope = f"backtest-{self.run_id}"
        self.lake = lake
        self._feed = feed
        self.loop: TradingLoop | None = None
        self.database: Engine | None = None
        self.elapsed_seconds = 0.0
        # The code that runs: read once, before it runs (HEAD may move while it does).
        self._code = {"git_sha": git_sha(), "git_dirty": git_dirty()}

    # -- folders -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        config: BacktestConfig,
        root: Path,
        *,
        lake: Lake | None = None,
        feed: FrameBarFeed | None = None,
        run_id: str | None = None,
    ) -> Backtest:
        run_dir = Path(root) / (run_id or new_run_id(config.strategy))
        backtest = cls(config, run_dir, lake=lake, feed=feed)
        # The data first: a window, symbol, source or predictions file that cannot be read
        # fails before there is a run folder to leave behind.
        backtest.feed()
        run_dir.mkdir(parents=True, exist_ok=False)
        _write_json(run_dir / CONFIG_FILE, config.model_dump(mode="json"))
        backtest._write_run({"status": "running", "created_at": datetime.now(UTC)})
        return backtest

    @classmethod
    def open(
        cls, run_dir: Path, *, lake: Lake | None = None, feed: FrameBarFeed | None = None
    ) -> Backtest:
        payload = read_json(Path(run_dir) / CONFIG_FILE)
        config = BacktestConfig.parse(payload, where="backtest config")
        assert isinstance(config, BacktestConfig)
        return cls(config, run_dir, lake=lake, feed=feed)

    @property
    def checkpoints(self) -> CheckpointStore:
        return CheckpointStore(self.run_dir / CHECKPOINT_DIR)

    def _write_run(self, updates: dict[str, Any]) -> None:
        path = self.run_dir / RUN_FILE
        current = read_json(path) if path.is_file() else {}
        config = self.config
        current.update(
            {
                "run_id": self.run_id,
                "kind": "backtest",
                "scope": self.scope,
                "strategy": config.strategy,
                "strategy_params": strategy_config(config.strategy, config.params).model_dump(
                    mode="json"
                ),
                "strategy_config_hash": strategy_config(config.strategy, config.params).config_hash,
                "symbols": list(config.symbols),
                "start": config.start.isoformat(),
                "end": config.end.isoformat(),
                "config_hash": config.config_hash,
                **self._code,
            }
        )
        current.update(updates)
        _write_json(path, current)

    # -- wiring ------------------------------------------------------------------------------

    def feed(self) -> FrameBarFeed:
        if self._feed is None:
            if self.lake is None:
                raise ProgrammerError("a backtest needs a lake or a feed")
            config = self.config
            predictions = (
                load_predictions(Path(config.predictions), config.start, config.end)
                if config.predictions
                else ()
            )
            self._feed = LakeBarFeed(
                self.lake,
                config.symbols,
                config.start,
                config.end,
                source=config.source,
                dataset=config.dataset,
                predictions=predictions,
            )
        return self._feed

    def _open_database(self, restore_from: Path | None) -> Engine:
        path = self.run_dir / DB_FILE
        if self.database is not None:
            self.database.dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if restore_from is not None:
            shutil.copyfile(restore_from, path)
        engine = run_database(path)
        upgrade(engine)
        # Built again when the run stops, finished or not (see storage.deferred_indexes).
        hold_back_indexes(engine)
        self.database = engine
        return engine

    def build(self, *, resume: bool) -> TradingLoop:
        config = self.config
        feed = self.feed()
        stored = self.checkpoints.load() if resume else None
        database = self._open_database(stored.database if stored else None)
        start_time = min(config.start, feed.describe().get("first_bar") or config.start)
        clock = SimulatedClock(start_time)
        cost_model = StandardCostModel(config.costs)
        broker = FastSimulatedBroker(clock, cost_model, config.broker)
        ledger = ScopeLedger(database, self.scope, durability=Durability.AT_COMMIT)
        gate = RiskGate(
            database, config.risk_limits(), scope=self.scope, clock=clock, ledger=ledger
        )
        gateway: OrderGateway[RiskContext] = OrderGateway(
            database,
            broker,
            gate,
            cost_model,
            scope=self.scope,
            clock=clock,
            config=GatewayConfig(),
        )
        policies = PolicyBook(
            ShortHorizonExec(config.short_horizon, cost_model),
            LongHorizonExec(config.long_horizon, cost_model),
        )
        strategy = build_strategy(config.strategy, config.params)
        loop = TradingLoop(
            clock=clock,
            feed=feed,
            broker=broker,
            gateway=gateway,
            gate=gate,
            policies=policies,
            strategies=[strategy],
            instruments=config.instruments.build(feed.symbols, broker.venue),
            portfolio=config.portfolio,
            state=PortfolioState(config.capital),
            cost_model=cost_model,
            config=config.engine,
            volatility=broker.volatility,
        )
        if stored is not None:
            loop.restore(stored.state)
            loop.curve = stored.curve
            if loop.cursor is not None:
                clock.advance_to(loop.cursor)
                # The simulated venue held no order at the checkpoint; its volatility
                # estimates come back by replaying the bars it had seen.
                for replayed in feed.events():
                    if replayed.at > loop.cursor:
                        break
                    for bar in replayed.bars:
                        broker.on_bar(bar)
            # The fill cursor indexes the crashed venue's fill list; the new venue starts
            # its own (fills are de-duplicated by trade id, so nothing is booked twice).
            Checkpoints(database, job=f"fill_cursor:{self.scope}").clear()
        self.loop = loop
        return loop

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        *,
        resume: bool = False,
        checkpoint_every: int | None = None,
        stop_after_events: int | None = None,
        progress: Progress | None = None,
    ) -> BacktestResult:
        """Run to the end of the window (or stop after `stop_after_events`, as a crash
        would); checkpoint every `checkpoint_every` events at the first moment with no
        order open."""
        loop = self.build(resume=resume)
        feed = self.feed()
        total = feed.event_count()
        store, database = self.checkpoints, self.database
        last_checkpoint = loop.stats.events

        def after_event(current: TradingLoop) -> None:
            nonlocal last_checkpoint
            if checkpoint_every is None or current.open_orders:
                return
            if current.stats.events - last_checkpoint >= checkpoint_every:
                current.gateway.commit()  # the checkpoint copies committed rows only
                store.save(current, database)
                last_checkpoint = current.stats.events

        report = None if progress is None else (lambda done: progress(loop.stats.events, total))
        began = time.perf_counter()
        try:
            with batch_collection():
                loop.run(
                    max_events=stop_after_events,
                    progress=report,
                    progress_every=max(1, total // 200),
                    on_event=after_event,
                )
        except BaseException as error:
            # Stopped from outside (Ctrl-C, SIGTERM) or by a fault: `backtest --resume`
            # carries on from the last checkpoint, and run.json must not claim it runs.
            self._write_run({"status": "interrupted", "stopped_by": type(error).__name__})
            raise
        self.elapsed_seconds = time.perf_counter() - began
        finished = next(iter(feed.events(after=loop.cursor)), None) is None
        if not finished:
            if database is not None:  # the loop committed its rows when it stopped
                build_indexes(database)
            self._write_run({"status": "interrupted", "cursor": loop.cursor})
            return BacktestResult(self.run_id, self.run_dir, False, {})
        metrics = self.finish()
        return BacktestResult(self.run_id, self.run_dir, True, metrics)

    # -- outputs -----------------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        loop, database = self.loop, self.database
        if loop is None or database is None:
            raise ProgrammerError("finish() before run()")
        # The window is over: an order still open (sent on its last bar) can never fill.
        cancelled = loop.gateway.cancel_open()
        loop.gateway.commit()
        build_indexes(database)
        trades = self.trades_frame()
        _check_ledger(trades, loop.state)
        trace = load_trace(database, self.scope)
        curve = curve_frame(loop.curve)
        trades.write_parquet(self.run_dir / TRADES_FILE)
        trace.write_parquet(self.run_dir / TRACE_FILE)
        curve.write_parquet(self.run_dir / EQUITY_FILE)
        metrics = self.metrics(trades, trace, curve)
        _write_json(self.run_dir / METRICS_FILE, metrics)
        feed = self.feed()
        description = feed.describe()
        manifest = description.get("manifest") or {"frame": bars_digest(feed.frame)}
        inputs: dict[str, Any] = {}
        if self.config.predictions:
            predictions = Path(self.config.predictions)
            inputs["predictions_file"] = {
                "path": str(predictions),
                "sha256": file_sha256(predictions),
            }
        self._write_run(
            {
                "status": "complete",
                "finished_at": datetime.now(UTC),
                "orders_cancelled_at_end": cancelled,
                "data": {
                    key: value
                    for key, value in description.items()
                    if key not in ("manifest", "manifest_hash")
                },
                "data_manifest": manifest,
                "data_manifest_hash": description.get("manifest_hash")
                or hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest(),
                **inputs,
            }
        )
        shutil.rmtree(self.run_dir / CHECKPOINT_DIR, ignore_errors=True)
        database.dispose()
        return metrics

    def trades_frame(self) -> pl.DataFrame:
        """Fills in booking order, with their orders' context and the book after each."""
        assert self.database is not None and self.loop is not None
        buckets = {s: i.bucket.value for s, i in self.loop.instruments.items()}
        with Session(self.database) as session:
            fills = session.scalars(
                select(FillRow).where(FillRow.scope == self.scope).order_by(FillRow.id)
            ).all()
            orders = {
                row.client_order_id: row
                for row in session.scalars(select(OrderRow).where(OrderRow.scope == self.scope))
            }
        book = PortfolioState(self.config.capital)
        rows = []
        for row in fills:
            order = orders[row.client_order_id]
            fill = Fill(
                row.trade_id,
                row.client_order_id,
                row.symbol,
                Side(row.side),
                row.quantity,
                row.price,
                row.fee,
                row.filled_at,
            )
            before = book.positions.get(row.symbol)
            realized_before = before.realized_pnl if before is not None else Decimal(0)
            after = book.apply(fill)
            rows.append(
                {
                    "filled_at": row.filled_at,
                    "trade_id": row.trade_id,
                    "client_order_id": row.client_order_id,
                    "strategy": order.strategy,
                    "symbol": row.symbol,
                    "bucket": buckets.get(row.symbol, "other"),
                    "horizon": str(order.intent.get("horizon", "")),
                    "policy": order.policy,
                    "side": row.side,
                    "quantity": row.quantity,
                    "price": row.price,
                    "fee": row.fee,
                    "notional": row.quantity * row.price,
                    "decision_time": order.decision_time,
                    "decision_price": order.decision_price,
                    "position_after": after.quantity,
                    "average_price_after": after.average_price,
                    "realized_delta": after.realized_pnl - realized_before,
                    "realized_pnl": after.realized_pnl,
                    "cash_after": book.cash,
                }
            )
        return pl.DataFrame(rows, schema=TRADES_SCHEMA)

    def metrics(
        self, trades: pl.DataFrame, trace: pl.DataFrame, curve: pl.DataFrame
    ) -> dict[str, Any]:
        loop = self.loop
        assert loop is not None
        config = self.config
        initial = config.capital
        final = loop.exact_equity()
        figures = curve_figures(curve, float(initial))
        marks = {s: price_decimal(loop.closes[s]) for s in loop.state.held()}
        unrealized = {
            symbol: position.quantity * (marks[symbol] - position.average_price)
            for symbol, position in sorted(loop.state.positions.items())
            if position.quantity != 0
        }
        buckets = {s: i.bucket.value for s, i in loop.instruments.items()}
        traded = trade_figures(
            trades, trace, unrealized, buckets, figures["average_equity"] or float(initial)
        )
        years = max(figures["days"], 1) / 365.0
        stats = loop.stats
        return {
            "run_id": self.run_id,
            "strategy": config.strategy,
            "initial_capital": str(initial),
            "final_equity": str(final),
            "net_pnl": str(final - initial),
            "net_return": float(final / initial - 1),
            "sharpe": figures["sharpe"],
            "sortino": figures["sortino"],
            "max_drawdown": figures["max_drawdown"],
            "hit_rate": traded["hit_rate"],
            "round_trips": traded["round_trips"],
            "turnover": traded["turnover"],
            "annual_turnover": None if traded["turnover"] is None else traded["turnover"] / years,
            "fees": traded["fees"],
            "spread_impact_cost": traded["spread_impact_cost"],
            "total_costs": traded["total_costs"],
            "fills": traded["fills"],
            "cash": str(loop.state.cash),
            "positions": {s: str(q) for s, q in loop.state.held().items()},
            "realized_pnl": str(loop.state.realized_pnl()),
            "unrealized_pnl": str(sum(unrealized.values(), Decimal(0))),
            "periods": {
                "days": figures["days"],
                "bars": figures["bars"],
                "first": figures["first"],
                "last": figures["last"],
                "periods_per_year": 365,
            },
            "exposure": {
                "average_gross": figures["average_gross_exposure"],
                "time_in_market": figures["time_in_market"],
            },
            "by_symbol": traded["by_symbol"],
            "by_bucket": traded["by_bucket"],
            "by_horizon": traded["by_horizon"],
            "engine": stats.to_json(),
            "throughput": {
                "seconds": self.elapsed_seconds,
                "bars": stats.bars,
                "bars_per_second": stats.bars / self.elapsed_seconds
                if self.elapsed_seconds
                else None,
            },
        }


def _check_ledger(trades: pl.DataFrame, state: PortfolioState) -> None:
    """The fills in the database and the engine's book must tell the same story."""
    if trades.height != state.fill_count:
        raise ProgrammerError(
            f"{trades.height} fills in the database, {state.fill_count} booked by the engine"
        )
    if trades.height and trades["cash_after"][-1] != state.cash:
        raise ProgrammerError("the database's fills and the engine's cash disagree")


def run_backtest(
    config: BacktestConfig,
    home: Path,
    *,
    lake: Lake | None = None,
    feed: FrameBarFeed | None = None,
    progress: Progress | None = None,
    checkpoint_every: int | None = None,
    run_id: str | None = None,
) -> BacktestResult:
    backtest = Backtest.create(config, runs_root(home), lake=lake, feed=feed, run_id=run_id)
    return backtest.run(checkpoint_every=checkpoint_every, progress=progress)


def resume_backtest(
    run_dir: Path,
    *,
    lake: Lake | None = None,
    feed: FrameBarFeed | None = None,
    progress: Progress | None = None,
    checkpoint_every: int | None = None,
) -> BacktestResult:
    if not (Path(run_dir) / CONFIG_FILE).is_file():
        # A grid's folder holds its trials, each a run of its own; it has no config.
        raise ConfigurationError(
            f"run {Path(run_dir).name} is a grid of trials, which cannot be resumed",
            field="--resume",
            fix="run the grid again (its trials are kept under the old folder for reference)",
        )
    backtest = Backtest.open(run_dir, lake=lake, feed=feed)
    if not backtest.checkpoints.exists():
        raise ConfigurationError(
            f"run {run_dir.name} has no checkpoint to resume from",
            field="--resume",
            fix="start a new run",
        )
    return backtest.run(resume=True, checkpoint_every=checkpoint_every, progress=progress)


# -- finding runs -------------------------------------------------------------------------------


def list_runs(home: Path) -> list[Path]:
    """Run folders, oldest first (names start with their UTC creation time)."""
    root = runs_root(home)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / RUN_FILE).is_file())


def _run_status(run_dir: Path) -> str | None:
    """The status its run.json records, or None (and a warning) when it cannot be read:
    one damaged folder must not hide every other run."""
    path = run_dir / RUN_FILE
    try:
        run = json.loads(path.read_text())
        if not isinstance(run, dict):
            raise ValueError(f"a JSON {type(run).__name__}, not an object")
    except (OSError, ValueError) as error:
        log.warning("backtest_run_unreadable", run_file=str(path), error=str(error))
        return None
    status = run.get("status")
    return status if isinstance(status, str) else None


def find_run(home: Path, run_id: str | None = None, *, option: str = "--run") -> Path:
    """The named run, or the newest complete one; `option` is what named it."""
    runs = list_runs(home)
    if run_id is not None:
        for path in runs:
            if path.name == run_id:
                return path
        fix = "give a run id from `quantgate backtest` output"
        raise ConfigurationError(
            f"no backtest run {run_id!r} under {runs_root(home)}",
            field=option,
            fix=fix + (", or omit --run for the latest" if option == "--run" else ""),
        )
    complete = [p for p in runs if _run_status(p) == "complete"]
    if not complete:
        raise ConfigurationError(
            f"no complete backtest run under {runs_root(home)}",
            field="--run",
            fix="run `quantgate backtest --strategy NAME --symbols ... --start ... --end ...`",
        )
    return complete[-1]


def copy_outputs(source: Path, target: Path, files: Sequence[str] = RUN_FILES) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
