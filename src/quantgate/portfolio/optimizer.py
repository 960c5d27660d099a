"""Mean–variance weights under caps and a risk budget, solved with SciPy's SLSQP.

The unknowns are the sizes x ≥ 0 of bets: a bet is one symbol in its signal's
direction, or the legs of a group (a pair) in the fixed signed proportions the
strategy sized them, each bet's legs summing to 1 in absolute weight. With L the
symbols × bets matrix of those signed leg weights, w = Lx and

    maximise   m'x − (λ/2) x'(L'ΣL)x               (m = L'μ > 0: never against a signal)
    subject to x_j · max_s |L_sj| ≤ symbol cap      (a bound per bet)
               Σ_j |L_sj| x_j ≤ symbol cap          for a symbol several bets trade
               Σ_j Σ_{s∈bucket} |L_sj| x_j ≤ bucket cap   for every bucket
               Σ x_j ≤ gross cap
               sqrt(x'(L'ΣL)x) ≤ risk budget

Every cap is linear in x (for a symbol or bucket that several bets trade, an upper
bound of its gross, so never exceeded) and only the risk budget is quadratic: a small
convex problem SLSQP solves reliably and deterministically. λ = 1 / Kelly fraction.
With one bet per symbol this is the plain problem over |w|.

The same problem without caps and budget gives the reference allocation: the
"before" values of the constraint report.
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
    magnitudes: Array  # expected return per unit size of each bet (L'μ), > 0
    signed_covariance: Array  # L'ΣL: covariance of the bets
    risk_aversion: float
    upper: Array  # the largest size of each bet: the symbol cap over its largest leg
    bucket_loads: Array  # bucket × bet: the gross weight a unit of the bet puts in the bucket
    bucket_caps: Array  # cap per bucket (row of bucket_loads)
    gross_cap: float
    risk_budget: float
    shared_loads: Array  # symbol × bet, for symbols several bets trade: |L_sj|
    symbol_cap: float


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
    problem: Problem, start: Array, upper: Array, constraints: list[dict[str, Any]]
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
            bounds=[(0.0, float(bound)) for bound in upper],
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
    return _minimise(problem, start, np.full(start.size, _REFERENCE_BOUND), [])


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
    rows = [*zip(problem.bucket_loads, problem.bucket_caps, strict=True)]
    rows += [(load, problem.symbol_cap) for load in problem.shared_loads]
    for load, cap in rows:
        if not load.any():
            continue
        constraints.append(
            {
                "type": "ineq",
                "fun": lambda x, m=load, c=cap: np.array([c - m @ x]),
                "jac": lambda x, m=load: np.atleast_2d(-m),
            }
        )
    solution = _minimise(problem, start, problem.upper, constraints)
    return Solution(
        shrink_to_feasible(problem, solution.magnitudes), solution.iterations, solution.message
    )


def feasibility_ratio(problem: Problem, x: Array) -> float:
    """The largest factor ≤ 1 by which x can be scaled and meet every cap (all are homogeneous)."""
    ratios = [1.0]
    ratios += [
        float(bound) / float(size) for bound, size in zip(problem.upper, x, strict=True) if size > 0
    ]
    total = float(np.sum(x))
    if total > 0:
        ratios.append(problem.gross_cap / total)
    rows = [*zip(problem.bucket_loads, problem.bucket_caps, strict=True)]
    rows += [(load, problem.symbol_cap) for load in problem.shared_loads]
    for load, cap in rows:
        gross = float(load @ x)
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
