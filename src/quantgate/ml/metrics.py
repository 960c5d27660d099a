"""Evaluation metrics: IC, rank IC, hit rate, volatility-forecast error,
per-group aggregation, confidence intervals and a cost-aware long/short backtest.

Conventions:

- Realised returns are the ``ret_<h>`` labels: forward *log* returns over the
  horizon. The backtest converts them to simple returns (``exp(r) - 1``)
  before weighting, because portfolio returns add up in simple, not log, terms.
- Annualisation assumes 24/7 trading: ``HOURS_PER_YEAR = 8760``; a series
  sampled every ``h`` hours has ``8760 / h`` periods per year. Equity callers
  pass their own ``hours_per_year`` (e.g. 252 × 6.5 = 1638).
- Costs are in basis points of traded notional: a period's cost is
  ``cost_bps / 1e4 × Σ|Δw|`` with weights as fractions of capital.
- Pairs with a NaN on either side are dropped before any statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy.stats import rankdata
from scipy.stats import t as student_t

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.ml.overfitting import max_drawdown, sharpe_ratio

FloatArray = NDArray[np.float64]
ArrayLike = NDArray[Any] | Sequence[float]

HOURS_PER_YEAR = 8760.0
MIN_PAIRS = 3


def periods_per_year(horizon: Horizon, *, hours_per_year: float = HOURS_PER_YEAR) -> float:
    """How many non-overlapping ``horizon`` periods fit in a year."""
    return hours_per_year / horizon.hours


def _finite_pairs(a: ArrayLike, b: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ProgrammerError(f"expected two 1-D arrays of equal length ({x.shape}, {y.shape})")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _pearson(x: FloatArray, y: FloatArray) -> float:
    if len(x) < MIN_PAIRS:
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator == 0.0:
        return math.nan
    return float(dx @ dy) / denominator


def information_coefficient(predictions: ArrayLike, realised: ArrayLike) -> float:
    """Pearson correlation of predictions and realised values; NaN if < 3 pairs or constant."""
    return _pearson(*_finite_pairs(predictions, realised))


def rank_information_coefficient(predictions: ArrayLike, realised: ArrayLike) -> float:
    """Spearman correlation (Pearson of average ranks, so ties are handled)."""
    x, y = _finite_pairs(predictions, realised)
    if len(x) < MIN_PAIRS:
        return math.nan
    return _pearson(rankdata(x), rankdata(y))


def hit_rate(predictions: ArrayLike, realised: ArrayLike) -> float:
    """Share of calls whose direction was right.

    A call is a prediction != 0; it is right when ``(pred > 0) == (realised > 0)``,
    matching the ``dir_<h>`` label where a flat move counts as "not up".
    """
    x, y = _finite_pairs(predictions, realised)
    called = x != 0.0
    if not called.any():
        return math.nan
    return float(np.mean((x[called] > 0.0) == (y[called] > 0.0)))


@dataclass(frozen=True, slots=True)
class VolForecastError:
    """``rmse_log``: RMSE of log(forecast) − log(realised); ``bias_log``: its mean
    (> 0 means over-forecast); ``qlike``: mean of ``r²/f² − log(r²/f²) − 1``
    (0 for a perfect forecast, robust to noise in the realised proxy; Patton 2011).
    """

    rmse_log: float
    bias_log: float
    qlike: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "rmse_log": self.rmse_log,
            "bias_log": self.bias_log,
            "qlike": self.qlike,
            "n": self.n,
        }


def vol_forecast_error(forecast_vol: ArrayLike, realised_vol: ArrayLike) -> VolForecastError:
    """Errors of a volatility forecast against realised volatility (same horizon, same units).

    Pairs with a non-positive forecast or realised vol are dropped: log and
    QLIKE are undefined there (a zero realised vol means missing bars upstream).
    """
    f, r = _finite_pairs(forecast_vol, realised_vol)
    keep = (f > 0.0) & (r > 0.0)
    f, r = f[keep], r[keep]
    if not len(f):
        return VolForecastError(math.nan, math.nan, math.nan, 0)
    log_error = np.log(f) - np.log(r)
    ratio = (r / f) ** 2
    return VolForecastError(
        rmse_log=float(np.sqrt(np.mean(log_error**2))),
        bias_log=float(np.mean(log_error)),
        qlike=float(np.mean(ratio - np.log(ratio) - 1.0)),
        n=len(f),
    )


# --- per-group aggregation ----------------------------------------------------------


def group_scores(
    frame: pl.DataFrame,
    prediction_col: str,
    realised_col: str,
    by: Sequence[str],
) -> pl.DataFrame:
    """IC, rank IC and hit rate per group, sorted by the group keys.

    Group on ``("symbol",)``, ``("horizon",)``, ``("fold",)`` or any mix; group on
    the decision time (``("asof",)``) for cross-sectional ICs per time.
    Columns: the keys, ``n`` (finite pairs), ``ic``, ``rank_ic``, ``hit_rate``.
    """
    keys = list(by)
    missing = [c for c in [*keys, prediction_col, realised_col] if c not in frame.columns]
    if missing:
        raise ProgrammerError(f"group_scores: frame lacks columns {missing}")
    pred, real = pl.col(prediction_col), pl.col(realised_col)
    data = frame.select(
        *keys,
        pred.cast(pl.Float64).fill_nan(None).alias("_p"),
        real.cast(pl.Float64).fill_nan(None).alias("_r"),
    ).drop_nulls(["_p", "_r"])
    called = pl.col("_p") != 0.0
    scored = (
        data.group_by(keys)
        .agg(
            pl.len().alias("n"),
            pl.corr("_p", "_r", method="pearson").alias("ic"),
            pl.corr("_p", "_r", method="spearman").alias("rank_ic"),
            ((pl.col("_p") > 0.0) == (pl.col("_r") > 0.0)).filter(called).mean().alias("hit_rate"),
        )
        .with_columns(
            # Polars returns a correlation for 2 points (±1); below MIN_PAIRS we
            # report NaN like the array functions, and NaN rather than null.
            pl.when(pl.col("n") >= MIN_PAIRS).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("ic", "rank_ic")
        )
        .with_columns(pl.col("ic", "rank_ic", "hit_rate").cast(pl.Float64).fill_null(float("nan")))
        .sort(keys)
    )
    return scored.select(*keys, pl.col("n").cast(pl.Int64), "ic", "rank_ic", "hit_rate")


@dataclass(frozen=True, slots=True)
class ConfidenceInterval:
    mean: float
    low: float
    high: float
    n: int
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": _json_float(self.mean),
            "low": _json_float(self.low),
            "high": _json_float(self.high),
            "n": self.n,
            "level": self.level,
            "method": self.method,
        }


def mean_confidence_interval(
    values: ArrayLike,
    *,
    level: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 10_000,
    seed: int = 0,
) -> ConfidenceInterval:
    """Confidence interval for the mean of (roughly independent) values, e.g. per-fold ICs.

    ``t``: mean ± t_{n−1} · s / √n. ``bootstrap``: percentile interval of
    ``n_boot`` resampled means (seeded, so reproducible). Bounds are NaN with
    fewer than 2 values. Per-fold values are the right input for long horizons:
    rows inside one fold share overlapping labels and are far from independent.
    """
    if not 0.0 < level < 1.0:
        raise ProgrammerError("level must be in (0, 1)")
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return ConfidenceInterval(mean, math.nan, math.nan, n, level, method)
    if method == "t":
        half = float(student_t.ppf(0.5 + level / 2.0, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
        return ConfidenceInterval(mean, mean - half, mean + half, n, level, method)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        low, high = np.quantile(means, [0.5 - level / 2.0, 0.5 + level / 2.0])
        return ConfidenceInterval(mean, float(low), float(high), n, level, method)
    raise ProgrammerError(f"unknown interval method {method!r}")


def fold_ic_summary(
    frame: pl.DataFrame,
    prediction_col: str,
    realised_col: str,
    *,
    fold_col: str = "fold",
    by: Sequence[str] = ("horizon",),
    level: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
) -> pl.DataFrame:
    """Mean IC and rank IC across folds with confidence intervals, per ``by`` group.

    Each fold contributes one IC (computed on its rows), so the interval
    reflects fold-to-fold variation. Columns: the keys, ``n_folds``, ``ic_mean``,
    ``ic_low``, ``ic_high``, ``rank_ic_mean``, ``rank_ic_low``, ``rank_ic_high``.
    """
    keys = list(by)
    per_fold = group_scores(frame, prediction_col, realised_col, [*keys, fold_col])
    rows: list[dict[str, Any]] = []
    groups = (
        per_fold.partition_by(keys, as_dict=True, maintain_order=True) if keys else {(): per_fold}
    )
    for key, part in groups.items():
        ic = mean_confidence_interval(part["ic"].to_numpy(), level=level, method=method)
        rank = mean_confidence_interval(part["rank_ic"].to_numpy(), level=level, method=method)
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(
            n_folds=ic.n,
            ic_mean=ic.mean,
            ic_low=ic.low,
            ic_high=ic.high,
            rank_ic_mean=rank.mean,
            rank_ic_low=rank.low,
            rank_ic_high=rank.high,
        )
        rows.append(row)
    schema = {k: per_fold.schema[k] for k in keys}
    value_schema = dict.fromkeys(
        ("ic_mean", "ic_low", "ic_high", "rank_ic_mean", "rank_ic_low", "rank_ic_high"),
        pl.Float64,
    )
    return pl.DataFrame(rows, schema={**schema, "n_folds": pl.Int64, **value_schema}, orient="row")


# --- long/short backtest -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-period series (aligned with ``times``) and summary figures.

    Returns are simple, per period, on capital; ``turnover`` is Σ|Δw| per period
    (the first period includes building the book from cash).
    """

    times: pl.Series
    gross_returns: FloatArray
    net_returns: FloatArray
    turnover: FloatArray
    periods_per_year: float
    cost_bps: float
    mode: str
    weighting: str
    n_missing_returns: int

    @property
    def net_sharpe(self) -> float:
        return sharpe_ratio(self.net_returns, self.periods_per_year)

    @property
    def gross_sharpe(self) -> float:
        return sharpe_ratio(self.gross_returns, self.periods_per_year)

    @property
    def max_drawdown(self) -> float:
        return max_drawdown(self.net_returns)

    @property
    def mean_turnover(self) -> float:
        return float(self.turnover.mean()) if len(self.turnover) else math.nan

    @property
    def annual_turnover(self) -> float:
        return self.mean_turnover * self.periods_per_year

    @property
    def annual_return(self) -> float:
        """Mean net period return × periods per year (arithmetic)."""
        if not len(self.net_returns):
            return math.nan
        return float(self.net_returns.mean()) * self.periods_per_year

    def returns_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "asof": self.times,
                "gross_return": self.gross_returns,
                "net_return": self.net_returns,
                "turnover": self.turnover,
            }
        )

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "weighting": self.weighting,
            "n_periods": len(self.net_returns),
            "periods_per_year": self.periods_per_year,
            "cost_bps": self.cost_bps,
            "net_sharpe": _json_float(self.net_sharpe),
            "gross_sharpe": _json_float(self.gross_sharpe),
            "annual_return": _json_float(self.annual_return),
            "max_drawdown": self.max_drawdown,
            "mean_turnover": _json_float(self.mean_turnover),
            "annual_turnover": _json_float(self.annual_turnover),
            "n_missing_returns": self.n_missing_returns,
        }


def cross_sectional_weights(
    signal: FloatArray, *, weighting: Literal["rank", "sign"] = "rank"
) -> FloatArray:
    """Target weights per row of a (times × symbols) signal matrix; gross exposure 1.

    ``rank``: weights ∝ (average rank − mean rank) among the symbols with a
    signal at that time — dollar-neutral; a single symbol (or all tied) gets 0.
    ``sign``: weights ∝ sign(signal), so the book may be net long or short.
    Rows are scaled so Σ|w| = 1; symbols without a signal get 0.
    """
    raw = np.zeros_like(signal)
    present = np.isfinite(signal)
    if weighting == "rank":
        ranks = rankdata(np.where(present, signal, np.nan), axis=1, nan_policy="omit")
        count = present.sum(axis=1, keepdims=True)
        centre = (count + 1) / 2.0
        raw = np.where(present, ranks - centre, 0.0)
    elif weighting == "sign":
        raw = np.where(present, np.sign(np.where(present, signal, 0.0)), 0.0)
    else:
        raise ProgrammerError(f"unknown weighting {weighting!r}")
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    weights: FloatArray = np.divide(raw, gross, out=np.zeros_like(raw), where=gross > 0)
    return weights


def long_short_backtest(
    frame: pl.DataFrame,
    signal_col: str,
    horizon: Horizon,
    *,
    return_col: str | None = None,
    step_return_col: str | None = None,
    mode: Literal["non_overlapping", "overlapping"] = "non_overlapping",
    weighting: Literal["rank", "sign"] = "rank",
    cost_bps: float = 0.0,
    step: Horizon = Horizon.H1,
    hours_per_year: float = HOURS_PER_YEAR,
    symbol_col: str = "symbol",
    time_col: str = "asof",
) -> BacktestResult:
    """Cost-aware cross-sectional long/short backtest of a raw signal.

    At each rebalance the book is long/short across the symbols with a signal,
    weighted by `cross_sectional_weights` (gross 1), and held for ``horizon``.

    ``non_overlapping``: rebalance at the first decision time, then at the first
    decision time at least ``horizon`` later, and so on; each period earns
    ``Σ w · (exp(ret_<h>) − 1)`` from ``return_col`` (default ``ret_<h>``).
    Periods per year = ``hours_per_year / h``.

    ``overlapping``: at every decision time (spaced ``step``, default 1h) a new
    sleeve of ``1/n`` of capital opens (``n = h / step``) and is held ``n``
    steps, so the book is the average of the last ``n`` target books; each
    step earns the book times the one-step forward return from
    ``step_return_col`` (default ``ret_<step>``). This uses every signal rather
    than every ``n``-th, with smoother turnover. Periods per year =
    ``hours_per_year / step``.

    Costs: ``cost_bps / 1e4 × Σ|Δw|`` per period, against the previous target
    book (price drift inside the period is ignored; the first period pays for
    building the book from cash). A missing realised return contributes 0 to
    its period (the weight was set without knowing it would be missing;
    dropping the row would use future information) and is counted in
    ``n_missing_returns``.
    """
    if cost_bps < 0:
        raise ProgrammerError("cost_bps must not be negative")
    if mode == "non_overlapping":
        column = return_col or f"ret_{horizon.value}"
        times, signal, realised = _panel(frame, signal_col, column, symbol_col, time_col)
        chosen = _non_overlapping_rows(times, horizon)
        signal, realised = signal[chosen], realised[chosen]
        times = times.gather(chosen)
        weights = cross_sectional_weights(signal, weighting=weighting)
        ppy = hours_per_year / horizon.hours
    elif mode == "overlapping":
        if horizon.hours % step.hours:
            raise ProgrammerError(f"horizon {horizon} is not a multiple of step {step}")
        column = step_return_col or f"ret_{step.value}"
        times, signal, realised = _panel(frame, signal_col, column, symbol_col, time_col)
        _require_regular(times, step)
        books = cross_sectional_weights(signal, weighting=weighting)
        weights = _sleeve_average(books, horizon.hours // step.hours)
        ppy = hours_per_year / step.hours
    else:
        raise ProgrammerError(f"unknown backtest mode {mode!r}")

    held = weights != 0.0
    missing = held & ~np.isfinite(realised)
    simple = np.where(np.isfinite(realised), np.expm1(np.nan_to_num(realised)), 0.0)
    gross = np.sum(weights * simple, axis=1)
    previous = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]])
    turnover = np.abs(weights - previous).sum(axis=1)
    net = gross - cost_bps / 1e4 * turnover
    return BacktestResult(
        times=times,
        gross_returns=gross,
        net_returns=net,
        turnover=turnover,
        periods_per_year=ppy,
        cost_bps=cost_bps,
        mode=mode,
        weighting=weighting,
        n_missing_returns=int(missing.sum()),
    )


def _panel(
    frame: pl.DataFrame, signal_col: str, return_col: str, symbol_col: str, time_col: str
) -> tuple[pl.Series, FloatArray, FloatArray]:
    """(sorted distinct times, signal matrix, return matrix), times × symbols, NaN-filled."""
    missing = [c for c in (symbol_col, time_col, signal_col, return_col) if c not in frame.columns]
    if missing:
        raise ProgrammerError(f"backtest: frame lacks columns {missing}")
    data = frame.select(
        pl.col(time_col),
        pl.col(symbol_col).cast(pl.String),
        pl.col(signal_col).cast(pl.Float64).fill_null(float("nan")).alias("_s"),
        pl.col(return_col).cast(pl.Float64).fill_null(float("nan")).alias("_r"),
    )
    if data.select(pl.struct(time_col, symbol_col).is_duplicated().any()).item():
        raise DataError(f"duplicate ({symbol_col}, {time_col}) rows in the backtest frame")
    times = data[time_col].unique().sort()
    symbols = data[symbol_col].unique().sort()
    t_index = times.search_sorted(data[time_col]).to_numpy()
    s_index = symbols.search_sorted(data[symbol_col]).to_numpy()
    signal = np.full((len(times), len(symbols)), np.nan)
    realised = np.full((len(times), len(symbols)), np.nan)
    signal[t_index, s_index] = data["_s"].to_numpy()
    realised[t_index, s_index] = data["_r"].to_numpy()
    return times, signal, realised


def _micros(times: pl.Series) -> NDArray[np.int64]:
    return times.dt.epoch("us").to_numpy().astype(np.int64)


def _non_overlapping_rows(times: pl.Series, horizon: Horizon) -> NDArray[np.int64]:
    micros = _micros(times)
    span = horizon.hours * 3_600_000_000
    chosen: list[int] = []
    position = 0
    while position < len(micros):
        chosen.append(position)
        position = int(np.searchsorted(micros, micros[position] + span, side="left"))
    return np.asarray(chosen, dtype=np.int64)


def _require_regular(times: pl.Series, step: Horizon) -> None:
    micros = _micros(times)
    gaps = np.diff(micros)
    if len(gaps) and (gaps != step.hours * 3_600_000_000).any():
        first = int(np.flatnonzero(gaps != step.hours * 3_600_000_000)[0])
        moment: datetime = times[first]
        raise DataError(
            f"overlapping backtest needs decision times every {step.value}; "
            f"irregular after {moment.isoformat()}",
            fix="fill the decision grid (a missing time can be a row with a NaN signal)",
        )


def _sleeve_average(books: FloatArray, sleeves: int) -> FloatArray:
    # Rolling mean over the last `sleeves` books, counting not-yet-opened sleeves
    # as cash (zero) so the book ramps up rather than levering its first sleeves.
    width = books.shape[1]
    cumulative = np.cumsum(np.vstack([np.zeros((1, width)), books]), axis=0)
    lagged = np.vstack([np.zeros((sleeves - 1, width)), cumulative])[: len(books)]
    window: FloatArray = cumulative[1:] - lagged
    # Differences of a running sum leave ~1e-16 residue where the book is flat.
    window[np.abs(window) < 1e-12] = 0.0
    return window / sleeves


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
