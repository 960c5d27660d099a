"""Per-symbol bar volatility for cost estimates, from bars already seen (never the one traded)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class _SymbolState:
    last_close: float | None = None
    variance: float = 0.0
    observations: int = 0


class VolatilityTracker:
    """EWMA of squared close-to-close log returns; σ is per bar, as a fraction."""

    def __init__(self, halflife_bars: float, min_observations: int) -> None:
        self._alpha = 1.0 - 0.5 ** (1.0 / halflife_bars)
        self._min_observations = min_observations
        self._states: dict[str, _SymbolState] = {}

    def sigma(self, symbol: str) -> float | None:
        """None until enough returns were seen; the cost model then uses its default."""
        state = self._states.get(symbol)
        if state is None or state.observations < self._min_observations:
            return None
        return math.sqrt(state.variance)

    def update(self, symbol: str, close: float) -> None:
        state = self._states.setdefault(symbol, _SymbolState())
        if not (math.isfinite(close) and close > 0):
            return
        if state.last_close is not None:
            squared = math.log(close / state.last_close) ** 2
            if state.observations == 0:
                state.variance = squared
            else:
                state.variance += self._alpha * (squared - state.variance)
            state.observations += 1
        state.last_close = close
