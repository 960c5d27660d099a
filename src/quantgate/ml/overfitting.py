"""Overfitting statistics: Sharpe helpers, deflated Sharpe ratio, PBO via CSCV.

Conventions:

- Return series are per-period *simple* returns unless a function says
  otherwise. Sharpe and Sortino are per-period unless ``periods_per_year`` is
  given, in which case they are multiplied by ``sqrt(periods_per_year)``.
- The deflated Sharpe ratio works on *per-period* (non-annualised) Sharpe
  ratios throughout, as in the paper: the observed SR, the trials' SR variance
  and the resulting benchmark SR0 must all be in the same per-period units.
- Sharpe uses the sample standard deviation (ddof=1); skewness and kurtosis
  are the population (biased) moment estimators used by Bailey & López de
  Prado; kurtosis is *raw* (3 for a normal distribution), not excess.

References: Bailey & López de Prado (2014), "The Deflated Sharpe Ratio";
Bailey, Borwein, López de Prado & Zhu (2015), "The Probability of Backtest
Overfitting".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from quantgate.core.errors import ConfigurationError, ProgrammerError

FloatArray = NDArray[np.float64]
ArrayLike = NDArray[Any] | Sequence[float]

EULER_MASCHERONI = 0.5772156649015329
# Limits the (combinations × configurations) work matrices of CSCV to ~8 MB each.
_CSCV_BATCH_CELLS = 1_000_000


def _clean(returns: ArrayLike, name: str = "returns") -> FloatArray:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ProgrammerError(f"{name} must be 1-D, got shape {values.shape}")
    # Missing periods are dropped, not zero-filled: a zero would be a return
    # nobody earned and would shrink the measured volatility.
    return values[np.isfinite(values)]


def sharpe_ratio(returns: ArrayLike, periods_per_year: float | None = None) -> float:
    """Mean over sample std (ddof=1); NaN with fewer than 2 values or zero std."""
    values = _clean(returns)
    if len(values) < 2:
        return math.nan
    std = float(values.std(ddof=1))
    if std == 0.0:
        return math.nan
    ratio = float(values.mean()) / std
    return ratio * math.sqrt(periods_per_year) if periods_per_year else ratio


def sortino_ratio(
    returns: ArrayLike, periods_per_year: float | None = None, *, target: float = 0.0
) -> float:
    """Mean excess over ``target`` divided by the downside deviation.

    Downside deviation is ``sqrt(mean(min(r - target, 0)^2))`` over *all*
    periods (periods above target count as zero shortfall). NaN when there is
    no shortfall at all, since the ratio is then unbounded.
    """
    values = _clean(returns)
    if len(values) < 2:
        return math.nan
    excess = values - target
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    ratio = float(excess.mean()) / downside
    return ratio * math.sqrt(periods_per_year) if periods_per_year else ratio


def drawdowns(returns: ArrayLike, *, log_returns: bool = False) -> FloatArray:
    """Drawdown after each period as a positive fraction of the running peak.

    The equity curve starts at 1 before the first period, so a first-period loss
    is already a drawdown.
    """
    values = _clean(returns)
    if not len(values):
        return np.zeros(0)
    if log_returns:
        log_equity = np.cumsum(values)
    else:
        if (values <= -1.0).any():
            # A simple return of -100% or worse wipes the account out.
            growth = np.maximum(1.0 + values, 0.0)
            with np.errstate(divide="ignore"):
                log_equity = np.cumsum(np.log(growth))
        else:
            log_equity = np.cumsum(np.log1p(values))
    peak = np.maximum.accumulate(np.concatenate(([0.0], log_equity)))[1:]
    return -np.expm1(log_equity - peak)


def max_drawdown(returns: ArrayLike, *, log_returns: bool = False) -> float:
    """Largest peak-to-trough loss of the compounded equity curve, in [0, 1]."""
    series = drawdowns(returns, log_returns=log_returns)
    # + 0.0 turns the -0.0 of a curve that never fell (1 - peak/peak) into 0.0.
    return float(series.max()) + 0.0 if len(series) else 0.0


# --- deflated Sharpe ratio --------------------------------------------------------


def sample_moments(returns: ArrayLike) -> tuple[float, float, float, int]:
    """(per-period Sharpe, skewness, raw kurtosis, n) of a return series."""
    values = _clean(returns)
    n = len(values)
    if n < 2:
        return math.nan, math.nan, math.nan, n
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    if m2 == 0.0:
        return math.nan, math.nan, math.nan, n
    skewness = float(np.mean(centred**3)) / m2**1.5
    kurtosis = float(np.mean(centred**4)) / m2**2
    return sharpe_ratio(values), skewness, kurtosis, n


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    skewness: float,
    kurtosis: float,
    benchmark: float = 0.0,
) -> float:
    """P(true SR > benchmark) given an observed per-period SR (Bailey & LdP 2012).

    ``Φ((SR - SR*) sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²))`` with raw
    kurtosis γ4. NaN when the variance term is not positive (extreme moments).
    """
    if n_obs < 2 or not all(map(math.isfinite, (sharpe, skewness, kurtosis, benchmark))):
        return math.nan
    variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if variance <= 0.0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(variance)
    return float(norm.cdf(z))


def expected_max_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """Expected maximum of ``n_trials`` SR estimates whose true SR is zero.

    ``sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))`` with γ the
    Euler–Mascheroni constant. One trial has nothing to select from, so its
    benchmark is 0.
    """
    if n_trials < 1:
        raise ProgrammerError("n_trials must be at least 1")
    if trials_sharpe_variance < 0.0:
        raise ProgrammerError("trials_sharpe_variance must not be negative")
    if n_trials == 1:
        return 0.0
    gamma = EULER_MASCHERONI
    factor = (1.0 - gamma) * norm.ppf(1.0 - 1.0 / n_trials) + gamma * norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(trials_sharpe_variance) * float(factor)


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """Per-period figures; ``dsr`` is the probability that the true SR exceeds SR0."""

    sharpe: float
    benchmark_sharpe: float
    dsr: float
    psr: float  # against a zero benchmark, i.e. ignoring selection
    n_obs: int
    skewness: float
    kurtosis: float
    n_trials: int
    trials_sharpe_variance: float

    def to_dict(self) -> dict[str, float | int | None]:
        return {name: _json_float(getattr(self, name)) for name in self.__dataclass_fields__}


def deflated_sharpe_from_stats(
    sharpe: float,
    n_obs: int,
    skewness: float,
    kurtosis: float,
    *,
    n_trials: int,
    trials_sharpe_variance: float,
) -> DeflatedSharpe:
    benchmark = expected_max_sharpe(n_trials, trials_sharpe_variance)
    return DeflatedSharpe(
        sharpe=sharpe,
        benchmark_sharpe=benchmark,
        dsr=probabilistic_sharpe_ratio(sharpe, n_obs, skewness, kurtosis, benchmark),
        psr=probabilistic_sharpe_ratio(sharpe, n_obs, skewness, kurtosis, 0.0),
        n_obs=n_obs,
        skewness=skewness,
        kurtosis=kurtosis,
        n_trials=n_trials,
        trials_sharpe_variance=trials_sharpe_variance,
    )


def deflated_sharpe_ratio(
    returns: ArrayLike,
    *,
    n_trials: int,
    trials_sharpe_variance: float | None = None,
    trials_sharpes: ArrayLike | None = None,
) -> DeflatedSharpe:
    """DSR of the selected strategy's per-period ``returns`` after ``n_trials`` tries.

    Give the cross-trial variance of per-period Sharpe ratios directly, or the
    trials' per-period Sharpe ratios (sample variance, ddof=1, is taken).
    """
    if (trials_sharpe_variance is None) == (trials_sharpes is None):
        raise ProgrammerError("give exactly one of trials_sharpe_variance, trials_sharpes")
    if trials_sharpes is not None:
        sharpes = _clean(trials_sharpes, "trials_sharpes")
        if len(sharpes) < 2:
            raise ProgrammerError("trials_sharpes needs at least 2 finite values")
        trials_sharpe_variance = float(sharpes.var(ddof=1))
    assert trials_sharpe_variance is not None
    sharpe, skewness, kurtosis, n_obs = sample_moments(returns)
    return deflated_sharpe_from_stats(
        sharpe,
        n_obs,
        skewness,
        kurtosis,
        n_trials=n_trials,
        trials_sharpe_variance=trials_sharpe_variance,
    )


# --- probability of backtest overfitting (CSCV) -------------------------------------


@dataclass(frozen=True, eq=False)
class BacktestOverfitting:
    """CSCV outcome; arrays have one entry per combination.

    ``logits`` are log(ω / (1 - ω)) of the out-of-sample relative rank ω of the
    in-sample best configuration; ``pbo`` is the share of logits <= 0.
    ``degradation_slope`` regresses OOS on IS performance of the selected
    configuration (negative: in-sample excellence does not carry over).
    """

    pbo: float
    logits: FloatArray
    is_performance: FloatArray
    oos_performance: FloatArray
    selected: NDArray[np.int64]
    n_submatrices: int
    n_rows_used: int
    n_configurations: int
    prob_oos_loss: float
    degradation_slope: float
    metric: str

    @property
    def n_combinations(self) -> int:
        return len(self.logits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pbo": self.pbo,
            "n_combinations": self.n_combinations,
            "n_submatrices": self.n_submatrices,
            "n_rows_used": self.n_rows_used,
            "n_configurations": self.n_configurations,
            "prob_oos_loss": self.prob_oos_loss,
            "degradation_slope": _json_float(self.degradation_slope),
            "logit_median": _json_float(float(np.median(self.logits))),
            "metric": self.metric,
        }


def probability_of_backtest_overfitting(
    returns: NDArray[Any],
    *,
    n_submatrices: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
) -> BacktestOverfitting:
    """PBO by combinatorially symmetric cross-validation.

    ``returns`` is a (T periods × N configurations) matrix of per-period returns,
    rows in time order and all configurations evaluated on the same periods (no
    NaN). Rows are cut into ``n_submatrices`` (S, even) contiguous blocks of
    equal length — the first ``T mod S`` rows are dropped to make them equal, so
    in- and out-of-sample halves always weigh the same. For each of the
    ``C(S, S/2)`` choices of in-sample blocks, the configuration best in sample
    is ranked out of sample.
    """
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim != 2:
        raise ProgrammerError(f"returns must be a (T, N) matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ProgrammerError("returns must be finite; align configurations before CSCV")
    n_rows, n_configs = matrix.shape
    if n_submatrices < 2 or n_submatrices % 2:
        raise ConfigurationError("n_submatrices must be an even number >= 2")
    if n_configs < 2:
        raise ConfigurationError("PBO needs at least 2 configurations")
    block = n_rows // n_submatrices
    if block < 2:
        raise ConfigurationError(
            f"{n_rows} periods are too few for {n_submatrices} submatrices of >= 2 rows"
        )
    used = matrix[n_rows - block * n_submatrices :]
    # Centre each configuration once so variances come from small numbers and
    # do not cancel catastrophically when the per-block sums are combined.
    centre = used.mean(axis=0)
    blocks = (used - centre).reshape(n_submatrices, block, n_configs)
    sums = blocks.sum(axis=1)
    squares = (blocks**2).sum(axis=1)

    combos = np.array(
        list(itertools.combinations(range(n_submatrices), n_submatrices // 2)), dtype=np.int64
    )
    in_sample = np.zeros((len(combos), n_submatrices))
    np.put_along_axis(in_sample, combos, 1.0, axis=1)
    count = block * n_submatrices // 2

    is_perf = np.empty(len(combos))
    oos_perf = np.empty(len(combos))
    logits = np.empty(len(combos))
    selected = np.empty(len(combos), dtype=np.int64)
    batch = max(1, _CSCV_BATCH_CELLS // n_configs)
    for first in range(0, len(combos), batch):
        part = slice(first, first + batch)
        chosen = in_sample[part]
        perf_in = _performance(chosen @ sums, chosen @ squares, count, centre, metric)
        perf_out = _performance(
            (1.0 - chosen) @ sums, (1.0 - chosen) @ squares, count, centre, metric
        )
        best = np.argmax(np.where(np.isnan(perf_in), -np.inf, perf_in), axis=1)
        rows = np.arange(len(best))
        best_out = perf_out[rows, best]
        below = (perf_out < best_out[:, None]).sum(axis=1)
        ties = (perf_out == best_out[:, None]).sum(axis=1)
        # Average rank among ties, 1 = worst; ω = rank / (N + 1) stays inside (0, 1).
        omega = (below + (ties + 1) / 2.0) / (n_configs + 1)
        logits[part] = np.log(omega / (1.0 - omega))
        is_perf[part] = perf_in[rows, best]
        oos_perf[part] = best_out
        selected[part] = best

    slope = math.nan
    finite = np.isfinite(is_perf) & np.isfinite(oos_perf)
    if finite.sum() >= 2 and np.ptp(is_perf[finite]) > 0:
        slope = float(np.polyfit(is_perf[finite], oos_perf[finite], 1)[0])
    return BacktestOverfitting(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        is_performance=is_perf,
        oos_performance=oos_perf,
        selected=selected,
        n_submatrices=n_submatrices,
        n_rows_used=block * n_submatrices,
        n_configurations=n_configs,
        prob_oos_loss=float(np.mean(oos_perf < 0.0)),
        degradation_slope=slope,
        metric=metric,
    )


def _performance(
    sums: FloatArray, squares: FloatArray, count: int, centre: FloatArray, metric: str
) -> FloatArray:
    mean_centred = sums / count
    mean = mean_centred + centre
    if metric == "mean":
        return mean
    if metric != "sharpe":
        raise ProgrammerError(f"unknown CSCV metric {metric!r}")
    variance = np.maximum(squares - count * mean_centred**2, 0.0) / (count - 1)
    std = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0.0, mean / np.where(std > 0.0, std, 1.0), np.nan)


def _json_float(value: float | int) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
