"""Stochastic process primitives for one chunk at a time, with explicit carried state."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import signal

FloatArray = NDArray[np.float64]


def garch_unit_variance(
    shocks: FloatArray, initial: float, alpha: float, beta: float
) -> tuple[FloatArray, float]:
    """GARCH(1,1) conditional variances with unconditional mean 1, and the variance after.

    With standardised shocks z the recursion s[t+1] = w + (a z[t]^2 + b) s[t] is
    linear in s with random coefficients c[t], so it has the closed form
    s[t] = C[t] (s[0] + w * sum_{j<=t} 1/C[j]) with C the running product of c.
    Within one chunk (hundreds of steps) C stays well inside float64 range, which
    is why the market carries the state from chunk to chunk instead of running
    this over the whole history.
    """
    omega = 1.0 - alpha - beta
    log_products = np.concatenate(([0.0], np.cumsum(np.log(alpha * shocks**2 + beta))))
    inverse_sums = np.concatenate(([0.0], np.cumsum(np.exp(-log_products[1:]))))
    variances = np.exp(log_products) * (initial + omega * inverse_sums)
    return variances[:-1], float(variances[-1])


def ar1(innovations: FloatArray, phi: float, previous: float) -> FloatArray:
    """x[t] = phi x[t-1] + sqrt(1 - phi^2) e[t]: unit stationary variance for unit innovations."""
    scale = np.sqrt(1.0 - phi * phi)
    filtered: FloatArray = signal.lfilter([scale], [1.0, -phi], innovations, zi=[phi * previous])[0]
    return filtered


def markov_regimes(
    rng: np.random.Generator, hours: int, state: int, leave_probability: tuple[float, float]
) -> tuple[NDArray[np.int8], int]:
    """A two-state Markov chain drawn as runs, and the state of the hour after the chunk.

    Run lengths are geometric, so starting a fresh run at the chunk boundary
    (instead of remembering how long the current one has lasted) leaves the
    chain's law unchanged.
    """
    states = np.empty(hours, dtype=np.int8)
    position = 0
    current = state
    while position < hours:
        run = int(rng.geometric(leave_probability[current]))
        states[position : position + run] = current
        position += run
        if position < hours:
            current = 1 - current
    following = current if position > hours else 1 - current
    return states, following


def compound_poisson(
    rng: np.random.Generator, hours: int, rate: float, mean: float, scale: float
) -> FloatArray:
    """Per-hour sums of a Poisson number of normal jumps (the sum of k normals is normal)."""
    counts = rng.poisson(rate, hours)
    return np.where(
        counts > 0, rng.normal(mean * counts, scale * np.sqrt(np.maximum(counts, 1))), 0.0
    )
