"""Paper and live trading: the same TradingLoop with a wall clock, a pushed feed and a broker.

What changes against a backtest is only what is plugged into the ports:

- Clock: `WallClock` (a `SimulatedClock` may be given to replay a day in paper mode);
- MarketFeed: a `QueueFeed` that `SourcePoller` fills with the bars a `MarketSource`
  publishes (one event per publication time, as in a backtest);
- Broker: `FastSimulatedBroker` for paper, a venue adapter's `Broker` for live.

The database is the project's (scope `paper-<name>` or `live-<name>`): it is the
truth after a restart, so a checkpoint holds only the loop's own state (strategies,
signal book, book, windows) and is written after every event. The loop polls the
venue at every event (`reconcile_when_idle`), since a venue can fill or cancel on
its own. Live trading needs a venue broker and, before any real order, the go-live
switch of the live-control issue; nothing here turns it on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator
from sqlalchemy import Engine

from quantgate.config.base import ComponentConfig
from quantgate.core.clock import Clock, WallClock, ensure_utc
from quantgate.core.enums import Mode
from quantgate.core.errors import ConfigurationError
from quantgate.core.types import Bar
from quantgate.data.schema import DEFAULT_BAR_PUBLICATION_LATENCY
from quantgate.data.sources.base import MarketSource
from quantgate.engine.checkpoint import CheckpointStore
from quantgate.engine.config import EngineConfig
from quantgate.engine.feeds import QueueFeed
from quantgate.engine.instruments import InstrumentsConfig
from quantgate.engine.loop import TradingLoop
from quantgate.engine.portfolio_state import PortfolioState
from quantgate.engine.ports import MarketEvent, MarketFeed
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.engine.slice_room import slice_room_error
from quantgate.execution.brokers.base import Broker
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
from quantgate.portfolio.selection import PortfolioConfig
from quantgate.risk.config import RiskLimits
from quantgate.risk.context import RiskContext
from quantgate.risk.gate import RiskGate
from quantgate.strategy.registry import build_strategy


class SessionConfig(ComponentConfig):
    mode: Mode = Mode.PAPER
    name: str = "default"
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: tuple[str, ...]
    # Paper: the simulated account's starting cash. Live: the venue's account is the truth
    # (reading it at start-up belongs to the venue adapter).
    capital: Decimal = Field(Decimal(100_000), gt=0)
    costs: CostModelConfig = Field(default_factory=CostModelConfig)
    broker: SimBrokerConfig = Field(default_factory=SimBrokerConfig)
    short_horizon: ShortHorizonConfig = Field(default_factory=ShortHorizonConfig)
    long_horizon: LongHorizonConfig = Field(default_factory=LongHorizonConfig)
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    engine: EngineConfig = Field(default_factory=lambda: EngineConfig(reconcile_when_idle=True))
    risk: RiskLimits = Field(default_factory=RiskLimits)
    instruments: InstrumentsConfig = Field(default_factory=InstrumentsConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)

    @model_validator(mode="after")
    def _slices_fit_the_throttle(self) -> SessionConfig:
        room_error = slice_room_error(self.long_horizon, self.risk)
        if room_error is not None:
            raise ValueError(room_error)
        return self

    @property
    def scope(self) -> str:
        return f"{self.mode.value}-{self.name}"


class TradingSession:
    """A paper or live loop on the project database, checkpointed after every event."""

    def __init__(
        self,
        config: SessionConfig,
        database: Engine,
        checkpoint_dir: Path,
        feed: MarketFeed,
        *,
        broker: Broker | None = None,
        clock: Clock | None = None,
    ) -> None:
        if config.mode is Mode.BACKTEST:
            raise ConfigurationError(
                "a trading session is paper or live", field="mode", fix="use engine.backtest"
            )
        if config.mode is Mode.LIVE and broker is None:
            raise ConfigurationError(
                "live trading needs a venue broker",
                field="broker",
                fix="plug in the venue adapter's Broker (and pass the go-live gate)",
            )
        self.config = config
        self.database = database
        self.store = CheckpointStore(Path(checkpoint_dir))
        self.feed = feed
        self.clock = clock or WallClock()
        self.cost_model = StandardCostModel(config.costs)
        self.broker = broker or FastSimulatedBroker(self.clock, self.cost_model, config.broker)
        self.loop: TradingLoop | None = None

    def build(self) -> TradingLoop:
        config = self.config
        gate = RiskGate(self.database, config.risk, scope=config.scope, clock=self.clock)
        gateway: OrderGateway[RiskContext] = OrderGateway(
            self.database,
            self.broker,
            gate,
            self.cost_model,
            scope=config.scope,
            clock=self.clock,
            config=config.gateway,
        )
        volatility = (
            self.broker.volatility if isinstance(self.broker, FastSimulatedBroker) else None
        )
        loop = TradingLoop(
            clock=self.clock,
            feed=self.feed,
            broker=self.broker,
            gateway=gateway,
            gate=gate,
            policies=PolicyBook(
                ShortHorizonExec(config.short_horizon, self.cost_model),
                LongHorizonExec(config.long_horizon, self.cost_model),
            ),
            strategies=[build_strategy(config.strategy, config.params)],
            instruments=config.instruments.build(config.symbols, self.broker.venue),
            portfolio=config.portfolio,
            state=PortfolioState(config.capital),
            cost_model=self.cost_model,
            config=config.engine.model_copy(update={"mode": config.mode}),
            volatility=volatility,
        )
        if self.store.exists():
            stored = self.store.load()
            loop.restore(stored.state)
            loop.curve = stored.curve
        self.loop = loop
        return loop

    def run(self, *, max_events: int | None = None) -> int:
        """Process events until the feed ends (or `max_events`); checkpoint after each."""
        loop = self.loop or self.build()
        store = self.store
        return loop.run(max_events=max_events, on_event=lambda current: store.save(current))


class SourcePoller:
    """Turns a MarketSource into feed events: each poll asks for the bars published since
    the last one and puts them on the queue, one event per publication time."""

    def __init__(
        self,
        source: MarketSource,
        symbols: Sequence[str],
        feed: QueueFeed,
        clock: Clock,
        *,
        start: datetime,
        timeframe: str = "1h",
        interval: timedelta = timedelta(hours=1),
        latency: timedelta = DEFAULT_BAR_PUBLICATION_LATENCY,
    ) -> None:
        self.source = source
        self.symbols = tuple(symbols)
        self.feed = feed
        self.clock = clock
        self.timeframe = timeframe
        self.interval = interval
        self.latency = latency
        self._next = dict.fromkeys(self.symbols, ensure_utc(start, name="start"))

    def poll_once(self) -> int:
        """Put every newly published bar on the feed; returns how many events were put."""
        now = self.clock.now()
        # A bar opened at ts is complete at ts + interval and published latency later.
        until = now - self.interval - self.latency
        found: list[Bar] = []
        for symbol in self.symbols:
            begin = self._next[symbol]
            if begin > until:
                continue
            frame = self.source.fetch_bars(
                symbol, begin, until + timedelta(microseconds=1), self.timeframe
            )
            frame = frame.filter(pl.col("available_at") <= now).sort("ts")
            for row in frame.iter_rows(named=True):
                found.append(
                    Bar(
                        symbol,
                        row["ts"],
                        row["available_at"],
                        row["open"],
                        row["high"],
                        row["low"],
                        row["close"],
                        row["volume"],
                    )
                )
            if found and found[-1].symbol == symbol:
                self._next[symbol] = found[-1].ts + self.interval
        by_time: dict[datetime, list[Bar]] = {}
        for bar in sorted(found, key=lambda b: (b.available_at, b.symbol)):
            by_time.setdefault(bar.available_at, []).append(bar)
        for at, bars in sorted(by_time.items()):
            self.feed.put(MarketEvent(at, bars))
        return len(by_time)

    def run_until(self, stop: threading.Event, every: timedelta = timedelta(seconds=30)) -> None:
        """Poll until `stop` is set (a scheduler may call `poll_once` instead)."""
        while not stop.is_set():
            self.poll_once()
            stop.wait(every.total_seconds())

    def checkpoint(self) -> str:
        return json.dumps({s: t.isoformat() for s, t in self._next.items()})
