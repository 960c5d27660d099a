"""Mean reversion: fade a price that has strayed far from its rolling mean.

z = (close - rolling mean) / rolling standard deviation over `window` bars,
the current close included. Below -entry_z the strategy goes long, above
+entry_z short; it leaves once z is back inside ±exit_z. An optional stop_z
closes a position whose z keeps running away: past that point the "mean" has
probably moved and the trade is no longer a reversion bet.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import Field, model_validator

from quantgate.core.signals import Signal
from quantgate.core.types import Bar
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.indicators import realised_vol, zscore
from quantgate.strategy.state import (
    CloseSeriesState,
    dump_close_states,
    load_close_states,
)


class MeanReversionConfig(StrategyConfig):
    window: int = Field(default=48, ge=3, le=10_000)
    entry_z: float = Field(default=2.0, gt=0.0)
    exit_z: float = Field(default=0.5, ge=0.0)
    stop_z: float | None = None
    allow_short: bool = True

    @model_validator(mode="after")
    def _check_bands(self) -> MeanReversionConfig:
        if self.exit_z >= self.entry_z:
            raise ValueError("exit_z must be below entry_z")
        if self.stop_z is not None and self.stop_z <= self.entry_z:
            raise ValueError("stop_z must be above entry_z")
        return self


def reversion_decision(
    position: int, z: float, config: MeanReversionConfig
) -> tuple[int, str] | None:
    """The new direction and why, or None to keep the current one."""
    stop = config.stop_z
    if position == 1:
        if stop is not None and z <= -stop:
            return 0, f"z {z:+.3f} ran past stop band -{stop}"
        if z >= config.entry_z and config.allow_short:
            return -1, f"z {z:+.3f} above entry band {config.entry_z}"
        if z >= -config.exit_z:
            return 0, f"z {z:+.3f} reverted inside exit band ±{config.exit_z}"
        return None
    if position == -1:
        if stop is not None and z >= stop:
            return 0, f"z {z:+.3f} ran past stop band {stop}"
        if z <= -config.entry_z:
            return 1, f"z {z:+.3f} below entry band -{config.entry_z}"
        if z <= config.exit_z:
            return 0, f"z {z:+.3f} reverted inside exit band ±{config.exit_z}"
        return None
    beyond_stop = stop is not None and abs(z) >= stop
    if beyond_stop:
        return None
    if z <= -config.entry_z:
        return 1, f"z {z:+.3f} below entry band -{config.entry_z}"
    if z >= config.entry_z and config.allow_short:
        return -1, f"z {z:+.3f} above entry band {config.entry_z}"
    return None


class MeanReversionStrategy(Strategy[MeanReversionConfig]):
    kind = "mean_reversion"

    _symbols: dict[str, CloseSeriesState]

    @property
    def lookback(self) -> int:
        return self.config.window

    def _reset(self) -> None:
        self._symbols = {}

    def _on_bar(self, bar: Bar) -> list[Signal]:
        state = self._symbols.get(bar.symbol)
        if state is None:
            state = self._symbols.setdefault(
                bar.symbol, CloseSeriesState(deque(maxlen=self.lookback))
            )
        state.closes.append(bar.close)
        if len(state.closes) < self.config.window:
            return []
        z = zscore(state.closes)
        if z is None:
            return []
        decision = reversion_decision(state.position, z, self.config)
        if decision is None:
            return []
        wanted, reason = decision
        state.position = wanted
        state.last_signal_at = bar.available_at
        strength = 1.0 if wanted == 0 else abs(z) / (2.0 * self.config.entry_z)
        return [
            self._signal(
                bar.symbol,
                bar.available_at,
                wanted * self.config.max_exposure,
                strength,
                reason,
                vol_forecast=self._horizon_vol(bar.symbol, realised_vol(state.closes)),
            )
        ]

    def _dump_state(self) -> dict[str, Any]:
        return dump_close_states(self._symbols)

    def _load_state(self, state: dict[str, Any]) -> None:
        self._symbols = load_close_states(state, self.lookback)
