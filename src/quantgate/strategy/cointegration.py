"""The Engle–Granger two-step cointegration test, in NumPy and SciPy.

Step 1: regress y on a constant and x by OLS; the slope is the hedge ratio and
the residual is the spread. Step 2: an augmented Dickey–Fuller regression on
the spread, without a constant (OLS residuals already have mean zero):

    Δe_t = γ e_{t-1} + Σ_{i=1..p} φ_i Δe_{t-i} + ε_t

The statistic is the t-ratio of γ. Because the spread was *estimated*, the
plain Dickey–Fuller tables are too lenient; the critical values are MacKinnon's
(2010) response surfaces for two I(1) series with a constant, and the p-value
is MacKinnon's (1994) approximation. The same conventions as statsmodels'
`coint` (residual ADF without constant, critical values at nobs − 1), so the
numbers can be checked against it.

References: J. G. MacKinnon (1994), "Approximate asymptotic distribution
functions for unit-root and cointegration tests", JBES 12(2); J. G. MacKinnon
(2010), "Critical values for cointegration tests", Queen's Economics
Department Working Paper 1227, table 2 (N = 2, constant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from quantgate.core.errors import DataError

Array = NDArray[np.float64]

# MacKinnon (2010) table 2, N = 2, constant: critical value = b0 + b1/T + b2/T² + b3/T³.
_CRITICAL_SURFACE: dict[str, tuple[float, float, float, float]] = {
    "1%": (-3.89644, -10.9519, -33.527, 0.0),
    "5%": (-3.33613, -6.1101, -6.823, 0.0),
    "10%": (-3.04445, -4.2412, -2.720, 0.0),
}
SIGNIFICANCE_LEVELS: dict[float, str] = {0.01: "1%", 0.05: "5%", 0.10: "10%"}

# MacKinnon (1994) p-value approximation for N = 2 with a constant:
# p = Φ(Σ c_k τ^k), with one polynomial for the left tail and one for the rest.
_TAU_MAX = 0.92
_TAU_MIN = -18.86
_TAU_STAR = -2.62
_SMALL_P = (2.92, 1.5012, 3.9796e-2)
_LARGE_P = (2.1945, 6.4695e-1, -2.9198e-1, -4.2377e-2)


def mackinnon_critical_value(level: str, nobs: int) -> float:
    b0, b1, b2, b3 = _CRITICAL_SURFACE[level]
    t = float(nobs)
    return b0 + b1 / t + b2 / t**2 + b3 / t**3


def mackinnon_p_value(statistic: float) -> float:
    if statistic > _TAU_MAX:
        return 1.0
    if statistic < _TAU_MIN:
        return 0.0
    coefficients = _SMALL_P if statistic <= _TAU_STAR else _LARGE_P
    z = sum(c * statistic**power for power, c in enumerate(coefficients))
    return float(norm.cdf(z))


@dataclass(frozen=True, slots=True)
class AdfResult:
    statistic: float
    lags: int
    nobs: int


@dataclass(frozen=True, slots=True)
class EngleGrangerResult:
    statistic: float
    p_value: float
    critical_values: dict[str, float]
    hedge_ratio: float
    intercept: float
    lags: int
    nobs: int

    def is_cointegrated(self, significance: float) -> bool:
        """True when the unit-root null on the spread is rejected at `significance`."""
        level = SIGNIFICANCE_LEVELS.get(significance)
        if level is None:
            raise ValueError(f"significance must be one of {sorted(SIGNIFICANCE_LEVELS)}")
        return self.statistic < self.critical_values[level]


def _ols(design: Array, target: Array) -> tuple[Array, Array]:
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    coefficients = np.asarray(solution, dtype=np.float64)
    return coefficients, target - design @ coefficients


def _adf_design(series: Array, lags: int, first_row: int) -> tuple[Array, Array]:
    """Regressors [e_{t-1}, Δe_{t-1} … Δe_{t-p}] and target Δe_t for rows from `first_row`."""
    diffs = np.diff(series)
    rows = np.arange(first_row, diffs.size)
    columns = [series[rows]]
    columns.extend(diffs[rows - lag] for lag in range(1, lags + 1))
    return np.column_stack(columns), diffs[rows]


def _t_ratio_of_first(design: Array, target: Array) -> float:
    coefficients, residuals = _ols(design, target)
    dof = design.shape[0] - design.shape[1]
    if dof <= 0:
        raise DataError("too few observations for the ADF regression", field="series")
    sigma2 = float(residuals @ residuals) / dof
    gram = design.T @ design
    if sigma2 <= 0.0 or np.linalg.cond(gram) > 1e12:
        raise DataError("degenerate ADF regression (constant or perfectly fitted series)")
    variance = sigma2 * float(np.linalg.inv(gram)[0, 0])
    return float(coefficients[0]) / math.sqrt(variance)


def _aic(design: Array, target: Array) -> float:
    _, residuals = _ols(design, target)
    n = target.size
    rss = float(residuals @ residuals)
    return n * math.log(rss / n) + 2 * design.shape[1] if rss > 0 else -math.inf


def max_adf_lags(points: int) -> int:
    """The most lags an ADF regression on `points` values can fit: with k lags it keeps
    points - 1 - k rows for k + 1 coefficients and needs two rows to spare, so
    points >= 2k + 4."""
    return (points - 4) // 2


def adf_no_constant(series: Sequence[float] | Array, lags: int | None = 1) -> AdfResult:
    """ADF t-statistic without deterministic terms; `lags=None` picks the lag by AIC.

    AIC selection fits every candidate lag on the same sample (so their AICs are
    comparable), then refits the chosen lag on all rows it can use, as
    statsmodels' `adfuller` does.
    """
    values = np.asarray(series, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError("series has non-finite values", field="series")
    n = values.size
    if lags is None:
        max_lags = min(math.ceil(12.0 * (n / 100.0) ** 0.25), n // 2 - 1)
        if max_lags < 0:
            raise DataError(f"series of {n} points is too short for an ADF test")
        scores = [_aic(*_adf_design(values, lag, max_lags)) for lag in range(max_lags + 1)]
        lags = int(np.argmin(scores))
    if lags < 0 or lags > max_adf_lags(n):
        raise DataError(f"series of {n} points is too short for an ADF test with {lags} lags")
    design, target = _adf_design(values, lags, lags)
    return AdfResult(_t_ratio_of_first(design, target), lags, target.size)


def engle_granger(
    y: Sequence[float] | Array, x: Sequence[float] | Array, lags: int | None = 1
) -> EngleGrangerResult:
    """Test whether y and x are cointegrated (null: they are not)."""
    y_values = np.asarray(y, dtype=np.float64)
    x_values = np.asarray(x, dtype=np.float64)
    if y_values.shape != x_values.shape or y_values.ndim != 1:
        raise DataError("y and x must be one-dimensional and of equal length", field="series")
    if not (np.all(np.isfinite(y_values)) and np.all(np.isfinite(x_values))):
        raise DataError("series have non-finite values", field="series")
    if float(np.std(x_values)) == 0.0:
        raise DataError("x is constant; no hedge ratio exists", field="series")
    design = np.column_stack([np.ones_like(x_values), x_values])
    (intercept, hedge_ratio), spread = _ols(design, y_values)
    adf = adf_no_constant(spread, lags)
    nobs = y_values.size - 1
    return EngleGrangerResult(
        statistic=adf.statistic,
        p_value=mackinnon_p_value(adf.statistic),
        critical_values={
            level: mackinnon_critical_value(level, nobs) for level in _CRITICAL_SURFACE
        },
        hedge_ratio=float(hedge_ratio),
        intercept=float(intercept),
        lags=adf.lags,
        nobs=adf.nobs,
    )
