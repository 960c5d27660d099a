"""Momentum entries protected by a bracket: a stop-loss, a take-profit, optionally trailing.

Entry: the lookback return is beyond `entry_threshold` while flat (and the
cooldown after the last exit has passed). The bracket is anchored at the
decision close and re-anchored to the real fill price when the fill arrives.

Exit: on each *later* bar, the levels as they stood before that bar are tested
against the bar's low and high. A bar that touches both the stop and the target
counts as a stop: a bar does not say which came first, and assuming the
favourable one would flatter every backtest. Only after the test does the bar's
high (low) move the peak (trough) that trails the stop, since using the bar's
extreme to tighten a stop that same bar is then tested against would look ahead
inside the bar.

An entry that never filled (the engine reports its plan ended with nothing filled: a
denial, an IOC that met no volume, a passive slice the market never reached) leaves
no position to protect: at the next bar the bracket is withdrawn with an exit signal
(the entry signal would otherwise stay active and let a later re-sizing buy an
unprotected position) and the cooldown starts, so a denied entry is not re-sent
every bar.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Fill, OrderEnded
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.indicators import lookback_return, realised_vol
from quantgate.strategy.state import bounded, decode_time, encode_time, require_time


class BracketMomentumConfig(StrategyConfig):
    lookback: int = Field(default=24, ge=1, le=10_000)
    entry_threshold: float = Field(default=0.02, gt=0.0)
    allow_short: bool = True
    stop_loss_pct: float = Field(default=0.02, gt=0.0, lt=1.0)
    take_profit_pct: float = Field(default=0.04, gt=0.0, lt=1.0)
    trailing_stop_pct: float | None = Field(default=None, gt=0.0, lt=1.0)
    max_holding_bars: int | None = Field(default=None, ge=1)
    # Bars after an exit during which no new entry is taken, so a stopped-out
    # trade is not re-opened on the very same move.
    cooldown_bars: int = Field(default=3, ge=0)


@dataclass(slots=True)
class Bracket:
    direction: int
    entry_price: float
    entry_at: datetime
    stop: float
    target: float
    peak: float
    trough: float
    trailed: bool = False
    bars_held: int = 0
    filled_quantity: float = 0.0
    filled_notional: float = 0.0
    # Why its entry ended with nothing filled (withdrawn at the next bar); None otherwise.
    entry_missed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "entry_price": self.entry_price,
            "entry_at": encode_time(self.entry_at),
            "stop": self.stop,
            "target": self.target,
            "peak": self.peak,
            "trough": self.trough,
            "trailed": self.trailed,
            "bars_held": self.bars_held,
            "filled_quantity": self.filled_quantity,
            "filled_notional": self.filled_notional,
            "entry_missed": self.entry_missed,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Bracket:
        return cls(
            direction=int(payload["direction"]),
            entry_price=float(payload["entry_price"]),
            entry_at=require_time(payload["entry_at"]),
            stop=float(payload["stop"]),
            target=float(payload["target"]),
            peak=float(payload["peak"]),
            trough=float(payload["trough"]),
            trailed=bool(payload["trailed"]),
            bars_held=int(payload["bars_held"]),
            filled_quantity=float(payload["filled_quantity"]),
            filled_notional=float(payload["filled_notional"]),
            entry_missed=None if payload["entry_missed"] is None else str(payload["entry_missed"]),
        )


@dataclass(slots=True)
class _SymbolState:
    closes: deque[float]
    bracket: Bracket | None = None
    bars_since_exit: int | None = None
    last_signal_at: datetime | None = None


class BracketMomentumStrategy(Strategy[BracketMomentumConfig]):
    kind = "bracket_momentum"
    # 2: a bracket records an entry that never filled (`entry_missed`).
    state_version = 2

    _symbols: dict[str, _SymbolState]

    @property
    def lookback(self) -> int:
        return self.config.lookback + 1

    def _reset(self) -> None:
        self._symbols = {}

    def open_bracket(self, symbol: str) -> Bracket | None:
        state = self._symbols.get(symbol)
        return None if state is None else state.bracket

    def _on_bar(self, bar: Bar) -> list[Signal]:
        state = self._symbols.get(bar.symbol)
        if state is None:
            state = self._symbols.setdefault(bar.symbol, _SymbolState(deque(maxlen=self.lookback)))
        state.closes.append(bar.close)
        if state.bracket is not None:
            return self._manage(state, state.bracket, bar)
        if state.bars_since_exit is not None:
            state.bars_since_exit += 1
            if state.bars_since_exit <= self.config.cooldown_bars:
                return []
        return self._maybe_enter(state, bar)

    def _maybe_enter(self, state: _SymbolState, bar: Bar) -> list[Signal]:
        config = self.config
        score = lookback_return(state.closes, config.lookback)
        if score is None:
            return []
        if score > config.entry_threshold:
            direction = 1
        elif score < -config.entry_threshold and config.allow_short:
            direction = -1
        else:
            return []
        bracket = Bracket(
            direction=direction,
            entry_price=bar.close,
            entry_at=bar.available_at,
            stop=0.0,
            target=0.0,
            peak=bar.close,
            trough=bar.close,
        )
        self._set_levels(bracket)
        state.bracket = bracket
        state.last_signal_at = bar.available_at
        return [
            self._signal(
                bar.symbol,
                bar.available_at,
                direction * config.max_exposure,
                abs(score) / (2.0 * config.entry_threshold),
                f"lookback return {score:+.5f} beyond {config.entry_threshold}; "
                f"stop {bracket.stop:.6g}, target {bracket.target:.6g}",
                vol_forecast=self._horizon_vol(bar.symbol, realised_vol(state.closes)),
                stop_price=bracket.stop,
                target_price=bracket.target,
            )
        ]

    def _manage(self, state: _SymbolState, bracket: Bracket, bar: Bar) -> list[Signal]:
        if bracket.entry_missed is not None:
            return self._close(state, bracket, bar, f"entry not filled ({bracket.entry_missed})")
        bracket.bars_held += 1
        exit_reason = _exit_reason(bracket, bar)
        max_hold = self.config.max_holding_bars
        if exit_reason is None and max_hold is not None and bracket.bars_held >= max_hold:
            exit_reason = f"time_stop after {bracket.bars_held} bars"
        if exit_reason is None:
            bracket.peak = max(bracket.peak, bar.high)
            bracket.trough = min(bracket.trough, bar.low)
            self._set_levels(bracket)
            return []
        return self._close(state, bracket, bar, exit_reason)

    def _close(
        self, state: _SymbolState, bracket: Bracket, bar: Bar, exit_reason: str
    ) -> list[Signal]:
        state.bracket = None
        state.bars_since_exit = 0
        state.last_signal_at = bar.available_at
        return [
            self._signal(
                bar.symbol,
                bar.available_at,
                0.0,
                1.0,
                exit_reason,
                stop_price=bracket.stop,
                target_price=bracket.target,
            )
        ]

    def _set_levels(self, bracket: Bracket) -> None:
        """Stop and target from the entry price, the stop trailed behind the best price seen."""
        config = self.config
        entry = bracket.entry_price
        trail = config.trailing_stop_pct
        if bracket.direction == 1:
            stop = entry * (1.0 - config.stop_loss_pct)
            bracket.target = entry * (1.0 + config.take_profit_pct)
            trailing = None if trail is None else bracket.peak * (1.0 - trail)
            bracket.trailed = trailing is not None and trailing > stop
            bracket.stop = trailing if trailing is not None and trailing > stop else stop
        else:
            stop = entry * (1.0 + config.stop_loss_pct)
            bracket.target = entry * (1.0 - config.take_profit_pct)
            trailing = None if trail is None else bracket.trough * (1.0 + trail)
            bracket.trailed = trailing is not None and trailing < stop
            bracket.stop = trailing if trailing is not None and trailing < stop else stop

    def on_fill(self, fill: Fill) -> None:
        """Re-anchor an open bracket to the volume-weighted price its entry filled at."""
        state = self._symbols.get(fill.symbol)
        bracket = None if state is None else state.bracket
        if bracket is None or fill.side.sign != bracket.direction:
            # Exit fills and fills against the bracket's direction do not move the entry.
            return
        price = float(fill.price)
        first_fill = bracket.filled_quantity == 0.0
        bracket.entry_missed = None  # a fill that raced the end: there is a position
        bracket.filled_quantity += float(fill.quantity)
        bracket.filled_notional += float(fill.quantity) * price
        bracket.entry_price = bracket.filled_notional / bracket.filled_quantity
        if first_fill or bracket.bars_held == 0:
            # The peak and trough are the position's: bars seen before its first fill (an
            # entry that did not fill at once) held nothing and must not trail the stop.
            bracket.peak = bracket.trough = bracket.entry_price
        else:
            bracket.peak = max(bracket.peak, price)
            bracket.trough = min(bracket.trough, price)
        self._set_levels(bracket)

    def on_order_ended(self, ended: OrderEnded) -> None:
        """An entry whose plan ended with nothing filled: the bracket protects nothing."""
        state = self._symbols.get(ended.symbol)
        bracket = None if state is None else state.bracket
        if (
            bracket is not None
            and ended.side.sign == bracket.direction
            and bracket.filled_quantity == 0.0
        ):
            bracket.entry_missed = ended.reason

    def _dump_state(self) -> dict[str, Any]:
        return {
            symbol: {
                "closes": list(state.closes),
                "bracket": None if state.bracket is None else state.bracket.to_json(),
                "bars_since_exit": state.bars_since_exit,
                "last_signal_at": encode_time(state.last_signal_at),
            }
            for symbol, state in sorted(self._symbols.items())
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._symbols = {
            symbol: _SymbolState(
                closes=bounded(entry["closes"], self.lookback),
                bracket=None if entry["bracket"] is None else Bracket.from_json(entry["bracket"]),
                bars_since_exit=None
                if entry["bars_since_exit"] is None
                else int(entry["bars_since_exit"]),
                last_signal_at=decode_time(entry["last_signal_at"]),
            )
            for symbol, entry in state.items()
        }


def _exit_reason(bracket: Bracket, bar: Bar) -> str | None:
    """Which level `bar` touched, judged on levels set before the bar; the stop wins ties."""
    stop_kind = "trailing_stop" if bracket.trailed else "stop_loss"
    if bracket.direction == 1:
        if bar.low <= bracket.stop:
            return f"{stop_kind} {bracket.stop:.6g} hit (low {bar.low:.6g})"
        if bar.high >= bracket.target:
            return f"take_profit {bracket.target:.6g} hit (high {bar.high:.6g})"
        return None
    if bar.high >= bracket.stop:
        return f"{stop_kind} {bracket.stop:.6g} hit (high {bar.high:.6g})"
    if bar.low <= bracket.target:
        return f"take_profit {bracket.target:.6g} hit (low {bar.low:.6g})"
    return None
