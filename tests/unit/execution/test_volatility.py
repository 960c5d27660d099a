"""The volatility tracker behind the simulated broker's cost estimates."""

from __future__ import annotations

import math

import pytest

from quantgate.execution.volatility import VolatilityTracker


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
