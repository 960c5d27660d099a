"""From signals to per-symbol expected returns, in the risk model's units.

Expected returns. A signal with a forecast contributes it, rescaled from the
signal's horizon to the risk model's (returns grow linearly with time), always
in the signal's direction: the allocator never trades against a strategy. A
rule signal without a forecast is assumed to earn `assumed_annual_sharpe`,
scaled to the risk model's horizon, times its exposure and strength.

Volatility. A signal's own forecast (a model's, or a rule strategy's recent realised
vol) over its horizon, rescaled to the risk model's, replaces the history's estimate of
that symbol's vol; the history still supplies the correlations.

De-duplication. Two signals whose *signed* return correlation (correlation of
the symbols times the product of their directions) exceeds the threshold are
one bet counted twice; the weaker is dropped. Signing matters: a long and a
short on two correlated coins is a hedge, not a duplicate. Signals in a group
(pair legs) are exempt: their legs are correlated by design and only make
sense together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quantgate.core.enums import Horizon
from quantgate.core.signals import Signal

_HOURS_PER_YEAR = 24.0 * 365.0


@dataclass(frozen=True, slots=True)
class Duplicate:
    dropped: Signal
    kept: Signal
    signed_correlation: float


def signal_alpha(
    signal: Signal, vol: float, risk_horizon: Horizon, assumed_annual_sharpe: float
) -> float:
    """Expected return over `risk_horizon` implied by `signal` (signed by its direction)."""
    if signal.expected_return is not None:
        return (
            signal.direction
            * abs(signal.expected_return)
            * (risk_horizon.hours / signal.horizon.hours)
        )
    sharpe = assumed_annual_sharpe * math.sqrt(risk_horizon.hours / _HOURS_PER_YEAR)
    return signal.target_exposure * signal.strength * sharpe * vol


def forecast_vols(signals: Sequence[Signal], risk_horizon: Horizon) -> dict[str, float]:
    """Each symbol's volatility over `risk_horizon` from its signals' forecasts (vol grows
    with the square root of time); where strategies disagree, the largest. Symbols with no
    forecast are absent: their vol comes from the return history."""
    vols: dict[str, float] = {}
    for signal in signals:
        if signal.vol_forecast is None:
            continue
        scaled = signal.vol_forecast * math.sqrt(risk_horizon.hours / signal.horizon.hours)
        vols[signal.symbol] = max(vols.get(signal.symbol, 0.0), scaled)
    return vols


def _rank(signal: Signal) -> tuple[float, float, str, str]:
    # Stronger first; ties broken on fixed fields so the outcome never depends on input order.
    return (-signal.strength, -abs(signal.target_exposure), signal.strategy, signal.symbol)


def deduplicate(
    signals: Sequence[Signal],
    correlation: Callable[[str, str], float],
    threshold: float,
) -> tuple[list[Signal], list[Duplicate]]:
    """Keep the stronger of every pair of duplicate bets; returns (kept, dropped)."""
    kept: list[Signal] = []
    dropped: list[Duplicate] = []
    for signal in sorted(signals, key=_rank):
        duplicate_of = None
        if signal.group is None:
            for other in kept:
                if other.group is not None:
                    continue
                signed = (
                    signal.direction * other.direction * correlation(signal.symbol, other.symbol)
                )
                if signed > threshold:
                    duplicate_of = Duplicate(signal, other, signed)
                    break
        if duplicate_of is None:
            kept.append(signal)
        else:
            dropped.append(duplicate_of)
    return sorted(kept, key=lambda s: (s.symbol, s.strategy)), dropped


def symbol_alphas(
    signals: Sequence[Signal],
    vol: Callable[[str], float],
    risk_horizon: Horizon,
    assumed_annual_sharpe: float,
) -> dict[str, float]:
    """Summed expected return per symbol (opposite views net out), symbols sorted; summed
    exactly (fsum), so the order the signals came in cannot change a bit."""
    parts: dict[str, list[float]] = {}
    for signal in sorted(signals, key=lambda s: (s.symbol, s.strategy)):
        alpha = signal_alpha(signal, vol(signal.symbol), risk_horizon, assumed_annual_sharpe)
        parts.setdefault(signal.symbol, []).append(alpha)
    return {symbol: math.fsum(values) for symbol, values in parts.items()}


def leg_groups(signals: Sequence[Signal]) -> dict[tuple[str, str], list[Signal]]:
    """Per (strategy, group), its signals when they are legs to size together: two or
    more, on distinct symbols (a pair). Any other signal is sized on its own."""
    groups: dict[tuple[str, str], list[Signal]] = {}
    for signal in signals:
        if signal.group is not None:
            groups.setdefault((signal.strategy, signal.group), []).append(signal)
    return {
        key: members
        for key, members in groups.items()
        if len(members) > 1 and len({member.symbol for member in members}) == len(members)
    }
