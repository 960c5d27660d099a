"""Per-symbol bar volatility for cost estimates, from bars already seen (never the one traded)."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    """EWMA of squared close-to-close log returns; σ is per bar, as a fraction.

    Updates only queue the closes, per symbol; they are folded into the EWMA when σ is
    asked for (or when many are queued, to bound memory). σ is needed when an order is
    priced, far less often than a bar arrives, and a fold runs over one symbol's closes
    with the state in locals. The fold does the same float operations in the same
    order as updating bar by bar, so σ is the same to the bit.
    """

    # Queued closes (all symbols) that trigger a fold of everything queued.
    fold_threshold = 65_536

    def __init__(self, halflife_bars: float, min_observations: int) -> None:
        self._alpha = 1.0 - 0.5 ** (1.0 / halflife_bars)
        self._min_observations = min_observations
        self._states: dict[str, _SymbolState] = {}
        # Per symbol, the closes not yet folded into its state, oldest first.
        self._queued: dict[str, list[float]] = {}
        self._queued_count = 0

    def sigma(self, symbol: str) -> float | None:
        """None until enough returns were seen; the cost model then uses its default."""
        queued = self._queued.get(symbol)
        if queued:
            self._fold(symbol, queued)
        state = self._states.get(symbol)
        if state is None or state.observations < self._min_observations:
            return None
        return math.sqrt(state.variance)

    def update(self, symbol: str, close: float) -> None:
        self.update_bars((_Close(symbol, close),))

    def update_bars(self, bars: Sequence[_HasClose]) -> None:
        """`update(bar.symbol, bar.close)` for each bar in turn."""
        queued = self._queued
        for bar in bars:
            closes = queued.get(bar.symbol)
            if closes is None:
                closes = queued[bar.symbol] = []
            closes.append(bar.close)
        self._queued_count += len(bars)
        if self._queued_count >= self.fold_threshold:
            for symbol, closes in queued.items():
                if closes:
                    self._fold(symbol, closes)

    def _fold(self, symbol: str, closes: list[float]) -> None:
        """Fold `closes` (the symbol's queue, emptied here) into the symbol's EWMA."""
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = _SymbolState()
        alpha, log, inf = self._alpha, math.log, math.inf
        last, variance, observations = state.last_close, state.variance, state.observations
        # Closes that are not positive and finite (NaN fails every comparison) are skipped.
        # The first return sets the variance, later ones move it: the two starts are
        # taken before the loop so that the loop itself has no case to tell apart.
        remaining = iter(closes)
        if last is None:
            last = next((close for close in remaining if 0.0 < close < inf), None)
        if last is not None and observations == 0:
            for close in remaining:
                if 0.0 < close < inf:
                    variance = log(close / last) ** 2
                    observations = 1
                    last = close
                    break
        if last is not None:
            for close in remaining:
                if 0.0 < close < inf:
                    squared = log(close / last) ** 2
                    variance += alpha * (squared - variance)
                    observations += 1
                    last = close
        state.last_close, state.variance, state.observations = last, variance, observations
        self._queued_count -= len(closes)
        closes.clear()
