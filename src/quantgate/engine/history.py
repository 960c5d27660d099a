"""Recent closes per symbol: the engine's source for volatility and the allocator's risk model.

The engine owns the return history (the allocator only takes a risk model), so
it keeps a bounded window of closes per symbol, appended once per bar, and
derives estimates only when a decision needs them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from quantgate.core.enums import Horizon
from quantgate.portfolio.risk_model import RiskModel

# Symbols a missing risk model's reason names before it counts the rest.
_NAMED = 5


class MarketHistory:
    def __init__(self, window: int = 24 * 60 + 1, bar_hours: float = 1.0) -> None:
        self.window = window
        self.bar_hours = bar_hours
        # Public so the loop can append without a call per bar; never rebound.
        self.by_symbol: dict[str, deque[float]] = {}

    def series(self, symbol: str) -> deque[float]:
        """The symbol's window (created empty on first use)."""
        closes = self.by_symbol.get(symbol)
        if closes is None:
            closes = self.by_symbol[symbol] = deque(maxlen=self.window)
        return closes

    def append(self, symbol: str, close: float) -> None:
        self.series(symbol).append(close)

    def closes(self, symbol: str) -> Sequence[float]:
        return self.by_symbol.get(symbol, ())

    def ewma_sigma(
        self, symbol: str, halflife_bars: float = 24.0, min_observations: int = 12
    ) -> float | None:
        """Per-bar σ: EWMA of squared close-to-close log returns over the window."""
        closes = self.by_symbol.get(symbol)
        if closes is None or len(closes) <= min_observations:
            return None
        alpha = 1.0 - 0.5 ** (1.0 / halflife_bars)
        variance, seen, last = 0.0, 0, None
        for close in closes:
            if not (math.isfinite(close) and close > 0):
                continue
            if last is not None:
                squared = math.log(close / last) ** 2
                variance = squared if seen == 0 else variance + alpha * (squared - variance)
                seen += 1
            last = close
        return math.sqrt(variance) if seen >= min_observations else None

    def risk_model(
        self, symbols: Sequence[str], horizon: Horizon = Horizon.D1, min_returns: int = 5
    ) -> RiskModel | None:
        """Sample vols and correlations of `horizon` returns over the window; None when any
        symbol has fewer than `min_returns` of them (allocator_v2 then falls back, loudly)."""
        return self.risk_model_or_reason(symbols, horizon, min_returns)[0]

    def risk_model_or_reason(
        self, symbols: Sequence[str], horizon: Horizon = Horizon.D1, min_returns: int = 5
    ) -> tuple[RiskModel | None, str | None]:
        """`risk_model`, or None with why: the symbols short of history, by name (the
        fallback it causes is reported, and "no risk model" alone sends a user hunting)."""
        step = max(1, round(horizon.hours / self.bar_hours))
        series = {}
        short: list[str] = []
        for symbol in symbols:
            closes = np.asarray(self.by_symbol.get(symbol, ()), dtype=np.float64)
            sampled = closes[::-1][::step][::-1]
            if np.any(sampled <= 0):
                short.append(f"{symbol} has a non-positive close")
            elif len(sampled) < min_returns + 1:
                short.append(f"{symbol} has {max(len(sampled) - 1, 0)}")
            else:
                series[symbol] = np.diff(np.log(sampled))
        if short:
            listed = ", ".join(short[:_NAMED]) + (
                f" and {len(short) - _NAMED} more" if len(short) > _NAMED else ""
            )
            return None, (
                f"the {horizon.value} risk model needs {min_returns} returns of every symbol "
                f"in its history window: {listed}"
            )
        if not series:
            return None, "no symbol to model"
        length = min(len(returns) for returns in series.values())
        aligned = {symbol: returns[-length:].tolist() for symbol, returns in series.items()}
        return RiskModel.from_returns(aligned, horizon), None

    def checkpoint(self) -> dict[str, list[float]]:
        return {symbol: list(closes) for symbol, closes in sorted(self.by_symbol.items())}

    def restore(self, state: dict[str, list[float]]) -> None:
        self.by_symbol.clear()
        for symbol, closes in state.items():
            self.by_symbol[symbol] = deque((float(c) for c in closes), maxlen=self.window)
