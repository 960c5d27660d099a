"""The Strategy interface the one engine drives.

Per bar and per symbol, in time order, the engine calls `on_bar(bar)` (through
`on_bars`, one call for the bars of one event); per model
output, `on_prediction(prediction)`; per fill of an order the strategy caused,
`on_fill(fill)`; per order of theirs that ended with part of it unfilled once nothing
more is planned for its symbol, `on_order_ended(ended)`. The first two return signals
(targets, see core.signals). The
engine fills orders on the *next* bar, so a signal may use everything up to and
including the bar it was handed, and nothing later: a strategy only ever sees
the past because it is fed one bar at a time and keeps no reference to a feed.

State lives in bounded windows (deques sized by `lookback`) and a few per-symbol
records, and `checkpoint()` captures all of it as JSON. `restore()` into a fresh
instance built from the same config continues exactly where the original was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon
from quantgate.core.errors import ConfigurationError, DataError, ProgrammerError
from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Fill, OrderEnded, Prediction
from quantgate.strategy.indicators import scale_to_horizon
from quantgate.strategy.state import encode_time, require_time


class StrategyConfig(ComponentConfig):
    """Fields every strategy shares."""

    # Two instances of one kind need different names: signals, reports and
    # client order ids are keyed by strategy name.
    label: str = ""
    # Empty means every symbol the engine feeds.
    symbols: tuple[str, ...] = ()
    # The horizon rule-based signals are stated over (ML signals pick their own).
    horizon: Horizon = Horizon.H1
    max_exposure: float = Field(default=1.0, gt=0.0, le=1.0)

    def required_symbols(self) -> tuple[str, ...]:
        """Symbols the engine must feed for this strategy to trade as configured."""
        return self.symbols


ConfigT = TypeVar("ConfigT", bound=StrategyConfig)


# "No gap seen yet": larger than any gap, so the first one always replaces it.
_NO_GAP = timedelta.max


@dataclass(slots=True)
class _SymbolClock:
    last_ts: datetime
    # The smallest gap seen between two bars of the symbol: its bar interval. Not the last
    # gap, which after an outage spans many bars and would shrink every volatility scaled
    # from per bar to a horizon by the square root of their number.
    smallest_gap: timedelta = _NO_GAP

    @property
    def interval(self) -> timedelta | None:
        return None if self.smallest_gap == _NO_GAP else self.smallest_gap


class Strategy(ABC, Generic[ConfigT]):
    """Base of every strategy; subclasses implement `_on_bar` and their state."""

    kind: ClassVar[str]
    # Bump when a subclass's checkpoint layout changes; old checkpoints are then refused.
    state_version: ClassVar[int] = 1

    def __init__(self, config: ConfigT) -> None:
        self.config = config
        self._clocks: dict[str, _SymbolClock] = {}
        # Per-bar calls spared when they could only answer yes / do what on_bars does.
        self._handles_every_symbol = type(self).handles is Strategy.handles and not config.symbols
        self._overrides_on_bar = type(self).on_bar is not Strategy.on_bar
        self._reset()

    # -- identity -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.label or self.kind

    @property
    def config_hash(self) -> str:
        return self.config.config_hash

    @property
    @abstractmethod
    def lookback(self) -> int:
        """The longest rolling window, in bars; it bounds every per-symbol cache."""

    def handles(self, symbol: str) -> bool:
        return not self.config.symbols or symbol in self.config.symbols

    # -- events -------------------------------------------------------------

    def on_bar(self, bar: Bar) -> list[Signal]:
        """Signals caused by `bar` (already closed and available at `bar.available_at`)."""
        return self._signals_of((bar,))

    def on_bars(self, bars: Sequence[Bar]) -> list[Signal]:
        """Signals caused by the bars of one event, in bar order: exactly what `on_bar`
        returns for each bar in turn (the engine makes one call per event)."""
        if self._overrides_on_bar:
            signals: list[Signal] = []
            for bar in bars:
                emitted = self.on_bar(bar)
                if emitted:
                    signals.extend(emitted)
            return signals
        return self._signals_of(bars)

    def _signals_of(self, bars: Sequence[Bar]) -> list[Signal]:
        """Order checks and replays per bar, then `_on_bar`; one loop for on_bar and on_bars."""
        signals: list[Signal] = []
        clocks, on_new_bar = self._clocks, self._on_bar
        every_symbol = self._handles_every_symbol
        for bar in bars:
            symbol = bar.symbol
            if not every_symbol and not self.handles(symbol):
                continue
            ts = bar.ts
            clock = clocks.get(symbol)
            if clock is None:
                clocks[symbol] = _SymbolClock(ts)
            elif ts > clock.last_ts:
                gap = ts - clock.last_ts
                if gap < clock.smallest_gap:
                    clock.smallest_gap = gap
                clock.last_ts = ts
            elif ts == clock.last_ts:
                # After a restart the engine may hand over the last bar again;
                # it was already acted on, so acting twice would be wrong.
                continue
            else:
                raise ProgrammerError(
                    f"{self.name}: {symbol} bar at {ts.isoformat()} arrived after "
                    f"{clock.last_ts.isoformat()}; the engine must feed bars in time order"
                )
            emitted = on_new_bar(bar)
            if emitted:
                signals.extend(emitted)
        return signals

    @abstractmethod
    def _on_bar(self, bar: Bar) -> Sequence[Signal]:
        """Strategy logic for one new bar (ordering and replays already handled). Most
        bars cause nothing: a shared empty tuple saves building a list per bar."""

    def on_prediction(self, prediction: Prediction) -> list[Signal]:
        """Signals caused by a model prediction; rule strategies ignore predictions."""
        return []

    def on_fill(self, fill: Fill) -> None:
        """Learn the real price an order of this strategy filled at (default: ignore)."""
        return None

    def on_order_ended(self, ended: OrderEnded) -> None:
        """Learn that an order this strategy caused ended short (unfilled rest cancelled,
        expired, rejected or denied) and its symbol has nothing more planned or working:
        the position is what its fills made it, short of the signal's target (default:
        ignore). Signals it calls for go out with the strategy's next bar."""
        return None

    # -- persistence ----------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Everything a restart needs, as plain JSON types."""
        return {
            "kind": self.kind,
            "name": self.name,
            "config_hash": self.config_hash,
            "state_version": self.state_version,
            "clocks": {
                symbol: {
                    "last_ts": encode_time(clock.last_ts),
                    "interval_s": None
                    if clock.interval is None
                    else clock.interval.total_seconds(),
                }
                for symbol, clock in sorted(self._clocks.items())
            },
            "state": self._dump_state(),
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Replace all state with `checkpoint`, which must come from the same config."""
        if checkpoint.get("kind") != self.kind:
            raise ConfigurationError(
                f"checkpoint of a {checkpoint.get('kind')!r} strategy cannot restore {self.kind!r}",
                field="checkpoint.kind",
            )
        if checkpoint.get("config_hash") != self.config_hash:
            raise ConfigurationError(
                f"{self.name}: checkpoint was written with config "
                f"{str(checkpoint.get('config_hash'))[:12]}, this instance runs "
                f"{self.config_hash[:12]}",
                field="checkpoint.config_hash",
                fix="restart with the config the checkpoint was written with, or start fresh",
            )
        if checkpoint.get("state_version") != self.state_version:
            raise ConfigurationError(
                f"{self.name}: checkpoint state version {checkpoint.get('state_version')} "
                f"is not {self.state_version}",
                field="checkpoint.state_version",
                fix="start the strategy fresh (warm it up on history)",
            )
        self._reset()
        self._clocks = {}
        try:
            clocks = {}
            for symbol, entry in checkpoint["clocks"].items():
                last_ts = require_time(entry["last_ts"])
                interval_s = entry["interval_s"]
                # A timedelta's total_seconds() round-trips through timedelta(seconds=…).
                clocks[symbol] = (
                    _SymbolClock(last_ts)
                    if interval_s is None
                    else _SymbolClock(last_ts, timedelta(seconds=float(interval_s)))
                )
            self._load_state(checkpoint["state"])
        except (KeyError, TypeError, ValueError, DataError) as error:
            # Half-restored state would produce signals no uninterrupted run would.
            self._reset()
            raise DataError(
                f"{self.name}: malformed checkpoint ({type(error).__name__}: {error})",
                field="checkpoint.state",
            ) from None
        self._clocks = clocks

    @abstractmethod
    def _reset(self) -> None:
        """Put the strategy in its initial, empty state (also called by restore)."""

    @abstractmethod
    def _dump_state(self) -> dict[str, Any]:
        """The subclass's state as plain JSON types."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Rebuild the subclass's state from `_dump_state` output."""

    # -- helpers for subclasses -------------------------------------------------

    def _bar_interval(self, symbol: str) -> timedelta | None:
        clock = self._clocks.get(symbol)
        return None if clock is None else clock.interval

    def _horizon_vol(self, symbol: str, per_bar_vol: float | None) -> float | None:
        return scale_to_horizon(per_bar_vol, self._bar_interval(symbol), self.config.horizon)

    def _signal(
        self,
        symbol: str,
        asof: datetime,
        target_exposure: float,
        strength: float,
        reason: str,
        **optional: Any,
    ) -> Signal:
        optional.setdefault("horizon", self.config.horizon)
        return Signal(
            symbol=symbol,
            asof=asof,
            strategy=self.name,
            target_exposure=target_exposure,
            strength=min(1.0, max(0.0, strength)),
            reason=reason,
            **optional,
        )
