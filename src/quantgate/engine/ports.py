"""The engine's ports: Clock, MarketFeed and Broker.

Backtest, paper and live run the same loop (engine.loop.TradingLoop); they
differ only in what is plugged into these three ports:

| mode     | Clock                      | MarketFeed                     | Broker                  |
|----------|----------------------------|--------------------------------|-------------------------|
| backtest | SimulatedClock             | FrameBarFeed / LakeBarFeed     | FastSimulatedBroker     |
| paper    | WallClock                  | QueueFeed (fed by a live source)| FastSimulatedBroker    |
| live     | WallClock                  | QueueFeed                      | a venue adapter's Broker|

`Clock` is `quantgate.core.clock.Clock` and `Broker` is
`quantgate.execution.brokers.base.Broker`; this module adds the feed port and
the one thing the loop does to a clock (`advance_clock`).

A feed yields `MarketEvent`s in time order. One event holds everything that
became known at one instant: the bars available at `at` (one per symbol, in
symbol order) and then the model predictions made as of `at`. The loop hands
the bars to the broker first (matching of orders sent earlier), then to the
strategies, so an order caused by a bar can only ever trade in a later bar.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quantgate.core.clock import Clock, SimulatedClock, ensure_utc
from quantgate.core.types import Bar, Prediction


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """What became known at `at`: bars (by symbol) and predictions as of `at`."""

    at: datetime
    bars: Sequence[Bar] = ()
    predictions: Sequence[Prediction] = field(default_factory=tuple)


class MarketFeed(ABC):
    """A time-ordered stream of market events."""

    @property
    @abstractmethod
    def symbols(self) -> tuple[str, ...]:
        """The symbols this feed serves."""

    @abstractmethod
    def events(self, after: datetime | None = None) -> Iterator[MarketEvent]:
        """Events with `at` strictly after `after` (all of them when None), in time order."""

    def describe(self) -> dict[str, Any]:
        """What the run records about its input (source, window, manifest)."""
        return {"kind": type(self).__name__, "symbols": list(self.symbols)}


def advance_clock(clock: Clock, moment: datetime) -> None:
    """Move a simulated clock to `moment`; a wall clock moves by itself.

    A live feed yields an event when it arrives, so the wall clock is already at
    or past `moment` when the loop sees it.
    """
    if isinstance(clock, SimulatedClock):
        clock.catch_up(moment)
    else:
        ensure_utc(moment, name="event time")
