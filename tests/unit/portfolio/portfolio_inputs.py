"""Signals and risk models for allocator tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from quantgate.core import Horizon, Signal
from quantgate.portfolio import RiskModel

T = datetime(2024, 6, 1, 12, tzinfo=UTC)


def sig(
    symbol: str,
    exposure: float,
    *,
    strength: float = 0.5,
    strategy: str = "momentum",
    expected_return: float | None = None,
    horizon: Horizon = Horizon.D1,
    group: str | None = None,
) -> Signal:
    return Signal(
        symbol=symbol,
        asof=T,
        strategy=strategy,
        target_exposure=exposure,
        strength=strength,
        horizon=horizon,
        reason="test",
        expected_return=expected_return,
        group=group,
    )


def risk_model(
    vols: dict[str, float], correlation: Sequence[Sequence[float]] | None = None
) -> RiskModel:
    n = len(vols)
    matrix = np.eye(n) if correlation is None else np.asarray(correlation, dtype=float)
    return RiskModel.from_vols(vols, matrix, Horizon.D1)


def random_case(seed: int, n: int) -> tuple[list[Signal], RiskModel]:
    """A well-posed random universe: positive definite correlations, mixed signals."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:02d}" for i in range(n)]
    factors = rng.normal(size=(n, n + 4))
    covariance = factors @ factors.T
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    vols = dict(zip(symbols, rng.uniform(0.01, 0.06, n).tolist(), strict=True))
    signals = []
    for symbol in symbols:
        direction = float(rng.choice([-1.0, 1.0]))
        if rng.uniform() < 0.5:
            signals.append(
                sig(
                    symbol,
                    direction * float(rng.uniform(0.2, 1.0)),
                    strength=float(rng.uniform(0.1, 1.0)),
                    strategy="ml_signal",
                    expected_return=direction * float(rng.uniform(0.001, 0.01)),
                    horizon=Horizon.H4,
                )
            )
        else:
            signals.append(sig(symbol, direction, strength=float(rng.uniform(0.1, 1.0))))
    return signals, risk_model(vols, correlation)
