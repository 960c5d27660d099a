"""Momentum: hold the direction the price has been moving in, once the move is big enough.

The score is either the lookback return (close now over close `lookback` bars
ago, minus one) or a moving-average crossover (fast mean over slow mean, minus
one). Entry needs the score beyond `entry_threshold`; the position is held until
the score falls back through `exit_threshold`. The gap between the two
thresholds is hysteresis: without it a score hovering at the threshold would
flip the position on every bar and pay costs for nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from quantgate.core.signals import Signal
from quantgate.core.types import Bar
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.indicators import lookback_return, moving_average, realised_vol
from quantgate.strategy.state import (
    CloseSeriesState,
    dump_close_states,
    load_close_states,
)

# What most bars cause (returned shared, not as a new empty list per bar).
_NO_SIGNALS: tuple[Signal, ...] = ()


class MomentumConfig(StrategyConfig):
    mode: Literal["return", "ma_cross"] = "return"
    # Bars of the lookback return, or of the slow moving average in ma_cross mode.
    lookback: int = Field(default=24, ge=2, le=10_000)
    fast_window: int = Field(default=6, ge=1)
    entry_threshold: float = Field(default=0.02, gt=0.0)
    exit_threshold: float = Field(default=0.0, ge=0.0)
    allow_short: bool = True

    @model_validator(mode="after")
    def _check_windows(self) -> MomentumConfig:
        if self.exit_threshold >= self.entry_threshold:
            raise ValueError("exit_threshold must be below entry_threshold (hysteresis)")
        if self.mode == "ma_cross" and self.fast_window >= self.lookback:
            raise ValueError("fast_window must be shorter than lookback in ma_cross mode")
        return self


def momentum_score(closes: deque[float], config: MomentumConfig) -> float | None:
    if config.mode == "return":
        return lookback_return(closes, config.lookback)
    fast = moving_average(closes, config.fast_window)
    slow = moving_average(closes, config.lookback)
    if fast is None or slow is None or slow <= 0:
        return None
    return fast / slow - 1.0


def desired_direction(
    position: int, score: float, entry: float, exit_: float, allow_short: bool
) -> int:
    """Hysteresis rule shared by the momentum strategies: enter past `entry`, leave past `exit_`."""
    if score > entry:
        return 1
    if score < -entry and allow_short:
        return -1
    if position == 1 and score < exit_:
        return 0
    if position == -1 and score > -exit_:
        return 0
    return position


class MomentumStrategy(Strategy[MomentumConfig]):
    kind = "momentum"

    _symbols: dict[str, CloseSeriesState]

    def __init__(self, config: MomentumConfig) -> None:
        super().__init__(config)
        # Read on every bar: resolved once (the config is frozen).
        self._return_lookback = config.lookback if config.mode == "return" else None
        self._entry = config.entry_threshold
        self._exit = config.exit_threshold

    @property
    def lookback(self) -> int:
        # The lookback return needs the close `lookback` bars back, hence one more.
        return self.config.lookback + 1

    def _reset(self) -> None:
        self._symbols = {}

    def _state_for(self, symbol: str) -> CloseSeriesState:
        state = self._symbols.get(symbol)
        if state is None:
            state = CloseSeriesState(deque(maxlen=self.lookback))
            self._symbols[symbol] = state
        return state

    def _on_bar(self, bar: Bar) -> Sequence[Signal]:
        state = self._symbols.get(bar.symbol)
        if state is None:
            state = self._state_for(bar.symbol)
        closes = state.closes
        closes.append(bar.close)
        lookback = self._return_lookback
        # momentum_score, without its dispatch on the mode.
        score = (
            lookback_return(closes, lookback)
            if lookback is not None
            else momentum_score(closes, self.config)
        )
        if score is None:
            return _NO_SIGNALS
        # The bands where desired_direction keeps the position, checked without the call:
        # flat within ±entry, long at or above exit, short at or below -exit (as
        # exit < entry, no such score can flip the position either).
        position = state.position
        if position == 0:
            if -self._entry <= score <= self._entry:
                return _NO_SIGNALS
        elif position == 1:
            if score >= self._exit:
                return _NO_SIGNALS
        elif position == -1 and score <= -self._exit:
            return _NO_SIGNALS
        config = self.config
        wanted = desired_direction(
            state.position, score, config.entry_threshold, config.exit_threshold, config.allow_short
        )
        if wanted == state.position:
            return _NO_SIGNALS
        state.position = wanted
        state.last_signal_at = bar.available_at
        label = "lookback return" if config.mode == "return" else "fast/slow MA"
        if wanted == 0:
            reason = f"{label} {score:+.5f} crossed exit threshold {config.exit_threshold}"
            strength = 1.0
        else:
            reason = f"{label} {score:+.5f} beyond entry threshold {config.entry_threshold}"
            strength = abs(score) / (2.0 * config.entry_threshold)
        return [
            self._signal(
                bar.symbol,
                bar.available_at,
                wanted * config.max_exposure,
                strength,
                reason,
                vol_forecast=self._horizon_vol(bar.symbol, realised_vol(state.closes)),
            )
        ]

    def _dump_state(self) -> dict[str, Any]:
        return dump_close_states(self._symbols)

    def _load_state(self, state: dict[str, Any]) -> None:
        self._symbols = load_close_states(state, self.lookback)
