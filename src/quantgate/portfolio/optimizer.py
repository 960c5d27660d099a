"""Mean–variance weights under caps and a risk budget, solved with SciPy's SLSQP.

    maximise   μ'w − (λ/2) w'Σw
    subject to sign(w_i) ∈ {0, sign(μ_i)}          (never against the signals)
               |w_i| ≤ symbol cap
               Σ_{i∈bucket} |w_i| ≤ bucket cap        for every bucket
               Σ |w_i| ≤ gross cap
               sqrt(w'Σw) ≤ risk budget

With the signs fixed, |w| is linear in the unknowns x = |w| ≥ 0, so every cap is
a linear constraint and only the risk budget is quadratic: a small convex
problem SLSQP solves reliably and deterministically. λ = 1 / Kelly fraction.

The same problem without caps and budget (signs kept) gives the reference
allocation: the "before" values of the constraint report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from quantgate.portfolio.errors import AllocationError

Array = NDArray[np.float64]

# Without caps the reference problem is still bounded (Σ is positive definite);
# this bound only keeps the solver's line search away from absurd steps.
_REFERENCE_BOUND = 1e6
_MAX_ITERATIONS = 500
_TOLERANCE = 1e-9
# SLSQP may end a hair outside a constraint; a uniform shrink of at most this much
# repairs that. A larger violation means the solver failed, not rounding.
_MAX_REPAIR = 1e-4


@dataclass(frozen=True, slots=True)
class Problem:
    magnitudes: Array  # |μ| per symbol, > 0
    signed_covariance: Array  # D Σ D with D = diag(sign μ): covariance of the |w| bets
    risk_aversion: float
    symbol_cap: float
    buckets: Array  # bucket index per symbol
    bucket_caps: Array  # cap per bucket index
    gross_cap: float
    risk_budget: float


@dataclass(frozen=True, slots=True)
class Solution:
    magnitudes: Array
    iterations: int
    message: str


def _objective(problem: Problem, scale: float) -> tuple[Any, Any]:
    mu, cov, lam = problem.magnitudes, problem.signed_covariance, problem.risk_aversion

    def value(x: Array) -> float:
        return float(-(mu @ x - 0.5 * lam * x @ cov @ x) / scale)

    def gradient(x: Array) -> Array:
        return np.asarray(-(mu - lam * cov @ x) / scale, dtype=np.float64)

    return value, gradient


def _minimise(
    problem: Problem, start: Array, upper: float, constraints: list[dict[str, Any]]
) -> Solution:
    scale = float(np.max(problem.magnitudes))
    value, gradient = _objective(problem, scale)
    # On an ill-conditioned covariance SLSQP's line search can stall at a point
    # it cannot certify; the problem is convex, so restarting from the origin
    # (always feasible) reaches the same optimum by another path.
    message = ""
    for attempt in (start, np.zeros_like(start)):
        result = minimize(
            value,
            attempt,
            jac=gradient,
            method="SLSQP",
            bounds=[(0.0, upper)] * start.size,
            constraints=constraints,
            options={"maxiter": _MAX_ITERATIONS, "ftol": _TOLERANCE},
        )
        if result.success:
            x = np.clip(np.asarray(result.x, dtype=np.float64), 0.0, upper)
            return Solution(x, int(result.nit), str(result.message))
        message = str(result.message)
    raise AllocationError(f"optimiser found no feasible solution: {message}")


def reference(problem: Problem) -> Solution:
    """The allocation the signals ask for before any cap or budget."""
    start = np.zeros_like(problem.magnitudes)
    return _minimise(problem, start, _REFERENCE_BOUND, [])


def solve(problem: Problem, start: Array) -> Solution:
    """The capped, risk-budgeted allocation; `start` must be feasible (e.g. scaled down)."""
    cov = problem.signed_covariance
    budget_sq = problem.risk_budget**2
    constraints: list[dict[str, Any]] = [
        {
            "type": "ineq",
            "fun": lambda x: np.array([(budget_sq - x @ cov @ x) / budget_sq]),
            "jac": lambda x: np.atleast_2d(-2.0 * cov @ x / budget_sq),
        },
        {
            "type": "ineq",
            "fun": lambda x: np.array([problem.gross_cap - np.sum(x)]),
            "jac": lambda x: -np.ones((1, x.size)),
        },
    ]
    for bucket, cap in enumerate(problem.bucket_caps):
        members = (problem.buckets == bucket).astype(np.float64)
        if not members.any():
            continue
        constraints.append(
            {
                "type": "ineq",
                "fun": lambda x, m=members, c=cap: np.array([c - m @ x]),
                "jac": lambda x, m=members: np.atleast_2d(-m),
            }
        )
    solution = _minimise(problem, start, problem.symbol_cap, constraints)
    return Solution(
        shrink_to_feasible(problem, solution.magnitudes), solution.iterations, solution.message
    )


def feasibility_ratio(problem: Problem, x: Array) -> float:
    """The largest factor ≤ 1 by which x can be scaled and meet every cap (all are homogeneous)."""
    ratios = [1.0]
    largest = float(np.max(x)) if x.size else 0.0
    if largest > 0:
        ratios.append(problem.symbol_cap / largest)
    total = float(np.sum(x))
    if total > 0:
        ratios.append(problem.gross_cap / total)
    for bucket, cap in enumerate(problem.bucket_caps):
        gross = float(np.sum(x[problem.buckets == bucket]))
        if gross > 0:
            ratios.append(float(cap) / gross)
    vol = portfolio_vol(problem.signed_covariance, x)
    if vol > 0:
        ratios.append(problem.risk_budget / vol)
    return min(ratios)


def shrink_to_feasible(problem: Problem, x: Array) -> Array:
    """Scale x down so every constraint holds exactly; refuse if it was far outside them."""
    ratio = feasibility_ratio(problem, x)
    if ratio < 1.0 - _MAX_REPAIR:
        raise AllocationError(
            f"optimiser result violates its constraints (needs scaling by {ratio:.6f})"
        )
    return np.asarray(x * ratio, dtype=np.float64)


def portfolio_vol(covariance: Array, weights: Array) -> float:
    variance = float(weights @ covariance @ weights)
    return float(np.sqrt(max(variance, 0.0)))
