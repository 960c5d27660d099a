"""The volatility tracker behind the simulated broker's cost estimates."""

from __future__ import annotations

import math
import random
from typing import NamedTuple

import pytest

from quantgate.execution.volatility import VolatilityTracker


class _Bar(NamedTuple):
    symbol: str
    close: float


def test_constant_returns_give_their_size_as_sigma_after_warm_up() -> None:
    tracker = VolatilityTracker(halflife_bars=10, min_observations=3)
    close = 100.0
    tracker.update("X", close)
    for step in range(3):
        assert tracker.sigma("X") is None  # not warmed up: the cost model's default applies
        close *= math.exp(0.01 if step % 2 == 0 else -0.01)
        tracker.update("X", close)
    assert tracker.sigma("X") == pytest.approx(0.01)
    assert tracker.sigma("OTHER") is None


def _eager_sigmas(closes: list[float], halflife: float, min_obs: int) -> list[float | None]:
    """σ after each close, worked out independently of the tracker."""
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    last, variance, observations, sigmas = None, 0.0, 0, []
    for close in closes:
        if 0.0 < close < math.inf:
            if last is not None:
                squared = math.log(close / last) ** 2
                variance = squared if observations == 0 else variance + alpha * (squared - variance)
                observations += 1
            last = close
        sigmas.append(math.sqrt(variance) if observations >= min_obs else None)
    return sigmas


def test_sigma_equals_an_independent_ewma_exactly_skipping_bad_closes() -> None:
    rng = random.Random(7)
    closes = {s: [100.0 * math.exp(rng.gauss(0, 0.02) * i) for i in range(300)] for s in "AB"}
    closes["A"][5] = math.nan
    closes["A"][9] = -1.0
    closes["B"][0] = 0.0
    tracker = VolatilityTracker(halflife_bars=12, min_observations=4)
    expected = {s: _eager_sigmas(c, 12, 4) for s, c in closes.items()}
    for i in range(300):
        tracker.update_bars([_Bar("A", closes["A"][i]), _Bar("B", closes["B"][i])])
        if rng.random() < 0.2:  # asked now and then, as when orders are priced
            assert tracker.sigma("A") == expected["A"][i]
            assert tracker.sigma("B") == expected["B"][i]
    assert tracker.sigma("A") == expected["A"][-1]
    assert tracker.sigma("B") == expected["B"][-1]
