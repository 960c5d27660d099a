"""Per-symbol bar volatility for cost estimates, from bars already seen (never the one traded)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class _HasClose(Protocol):
    """A bar as far as volatility goes."""

    @property
    def symbol(self) -> str: ...

    @property
    def close(self) -> float: ...


class _Close(NamedTuple):
    symbol: str
    close: float


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
        self.update_bars((_Close(symbol, close),))

    def update_bars(self, bars: Iterable[_HasClose]) -> None:
        """`update(bar.symbol, bar.close)` for each bar in turn."""
        states, alpha, log, inf = self._states, self._alpha, math.log, math.inf
        for bar in bars:
            symbol, close = bar.symbol, bar.close
            state = states.get(symbol)
            if state is None:
                state = states[symbol] = _SymbolState()
            # Positive and finite (NaN fails every comparison).
            if not 0.0 < close < inf:
                continue
            last = state.last_close
            if last is not None:
                squared = log(close / last) ** 2
                if state.observations == 0:
                    state.variance = squared
                else:
                    state.variance += alpha * (squared - state.variance)
                state.observations += 1
            state.last_close = close
