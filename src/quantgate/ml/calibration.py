"""Probability calibration: isotonic (PAV) and Platt, plus expected calibration error.

A calibrator maps a raw score (a model probability, a confidence, an expected
return) to the calibrated probability that the predicted direction is right.
`direction_outcomes` builds the (score, outcome) pairs from a directional
prediction and the realised direction label.

Calibrators travel with the model: `to_dict`/`to_json` give plain JSON and
`calibrator_from_dict` restores an identical calibrator (floats round-trip
exactly through JSON). Because inference runs in ONNX Runtime, each fitted
calibrator also exposes its mapping as a piecewise-linear `CalibrationTable`
(ascending x knots, y values; constant beyond the ends) that ``np.interp`` — or
an ONNX interpolation graph — evaluates. For isotonic regression the table *is*
the model; for Platt scaling it is a dense sampling of the sigmoid whose
error bound is stated on the table.

Learned attributes end in ``_``; ``fit`` returns the calibrator.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import NDArray

from quantgate.core.errors import DataError, ProgrammerError

FloatArray = NDArray[np.float64]
ArrayLike = NDArray[Any] | Sequence[float]

SERIAL_VERSION = 1


def _pairs(
    scores: ArrayLike, outcomes: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.shape != w.shape:
        raise ProgrammerError(
            f"scores, outcomes and weights must be 1-D of equal length "
            f"({x.shape}, {y.shape}, {w.shape})"
        )
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    if not len(x):
        raise DataError("no finite (score, outcome) pairs to calibrate on")
    if ((y < 0.0) | (y > 1.0)).any():
        raise DataError("outcomes must lie in [0, 1] (1 = predicted direction was right)")
    return x, y, w


def direction_outcomes(
    scores: ArrayLike, realised_direction: ArrayLike, *, threshold: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """(confidence, outcome) pairs for a directional prediction.

    The predicted direction is up when ``score > threshold``; the confidence is
    ``|score - threshold|`` (use ``threshold=0.5`` for a probability of "up",
    0 for an expected return); the outcome is 1.0 when the predicted direction
    equals the realised one (``dir_<h>`` labels: 1 up, 0 not up) and NaN where
    either is missing.
    """
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(realised_direction, dtype=np.float64)
    predicted_up = s > threshold
    outcome = (predicted_up == (d > 0.5)).astype(np.float64)
    outcome[~(np.isfinite(s) & np.isfinite(d))] = np.nan
    return np.abs(s - threshold), outcome


@dataclass(frozen=True, eq=False)
class CalibrationTable:
    """A piecewise-linear map: ``y = np.interp(x_in, x, y)``, constant beyond the ends.

    ``max_error`` bounds |table - exact calibrator| (0 for isotonic).
    """

    x: FloatArray
    y: FloatArray
    max_error: float = 0.0

    def __post_init__(self) -> None:
        if self.x.ndim != 1 or self.x.shape != self.y.shape or not len(self.x):
            raise ProgrammerError("a calibration table needs equal, non-empty 1-D knots")
        if np.any(np.diff(self.x) < 0):
            raise ProgrammerError("calibration table knots must be ascending")

    def evaluate(self, scores: ArrayLike) -> FloatArray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x.tolist(), "y": self.y.tolist(), "max_error": self.max_error}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> CalibrationTable:
        return cls(
            np.asarray(payload["x"], dtype=np.float64),
            np.asarray(payload["y"], dtype=np.float64),
            float(payload.get("max_error", 0.0)),
        )


class _Calibrator(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def predict(self, scores: ArrayLike) -> FloatArray:
        """Calibrated probabilities for raw scores."""

    @abstractmethod
    def to_table(self) -> CalibrationTable:
        """The fitted mapping as a piecewise-linear table (evaluated with np.interp)."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor parameters, for serialisation."""

    @abstractmethod
    def _fitted(self) -> dict[str, Any] | None:
        """Learned state, or None before fit."""

    @abstractmethod
    def _restore(self, fitted: dict[str, Any]) -> None:
        """Set the learned state from `_fitted()` output."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": SERIAL_VERSION,
            "params": self._params(),
            "fitted": self._fitted(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Self:
        if payload.get("kind") != cls.kind:
            raise DataError(f"expected a {cls.kind!r} calibrator, got {payload.get('kind')!r}")
        if payload.get("version") != SERIAL_VERSION:
            raise DataError(f"unsupported calibrator version {payload.get('version')!r}")
        calibrator = cls(**payload["params"])
        if payload.get("fitted") is not None:
            calibrator._restore(payload["fitted"])
        return calibrator

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))


class IsotonicCalibrator(_Calibrator):
    """Monotone calibration by weighted pool-adjacent-violators.

    The fit is a step function on the distinct training scores; between the
    last score of one block and the first of the next it is linearly
    interpolated, and beyond the training range it is held constant.
    """

    kind = "isotonic"

    def __init__(self, *, increasing: bool = True) -> None:
        self.increasing = increasing

    def fit(
        self, scores: ArrayLike, outcomes: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Self:
        x, y, w = _pairs(scores, outcomes, sample_weight)
        order = np.argsort(x, kind="stable")
        x, y, w = x[order], y[order], w[order]
        distinct, first = np.unique(x, return_index=True)
        weight = np.add.reduceat(w, first)
        mean = np.add.reduceat(w * y, first) / weight
        fitted = pool_adjacent_violators(mean, weight, increasing=self.increasing)
        self.x_knots_, self.y_knots_ = _block_knots(distinct, fitted)
        self.n_samples_ = len(x)
        return self

    def predict(self, scores: ArrayLike) -> FloatArray:
        return self.to_table().evaluate(scores)

    def to_table(self) -> CalibrationTable:
        _require_fitted(self, "x_knots_")
        return CalibrationTable(self.x_knots_, self.y_knots_)

    def _params(self) -> dict[str, Any]:
        return {"increasing": self.increasing}

    def _fitted(self) -> dict[str, Any] | None:
        if not hasattr(self, "x_knots_"):
            return None
        return {
            "x_knots": self.x_knots_.tolist(),
            "y_knots": self.y_knots_.tolist(),
            "n_samples": self.n_samples_,
        }

    def _restore(self, fitted: dict[str, Any]) -> None:
        self.x_knots_ = np.asarray(fitted["x_knots"], dtype=np.float64)
        self.y_knots_ = np.asarray(fitted["y_knots"], dtype=np.float64)
        self.n_samples_ = int(fitted["n_samples"])


def pool_adjacent_violators(
    values: ArrayLike, weights: ArrayLike | None = None, *, increasing: bool = True
) -> FloatArray:
    """Weighted least-squares monotone fit of ``values`` (in their given order).

    The stack form of PAV: each new point starts a block and merges backwards
    while it violates monotonicity with the block before; O(n) amortised.
    """
    y = np.asarray(values, dtype=np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    if y.shape != w.shape or y.ndim != 1:
        raise ProgrammerError("values and weights must be 1-D of equal length")
    if not increasing:
        return -pool_adjacent_violators(-y, w, increasing=True)
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y.tolist(), w.tolist(), strict=True):
        mean, total, size = value, weight, 1
        while means and means[-1] >= mean:
            previous, previous_total = means.pop(), totals.pop()
            size += sizes.pop()
            mean = (previous * previous_total + mean * total) / (previous_total + total)
            total += previous_total
        means.append(mean)
        totals.append(total)
        sizes.append(size)
    return np.repeat(np.asarray(means), np.asarray(sizes, dtype=np.int64))


def _block_knots(x: FloatArray, fitted: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Keep the first and last point of every constant block: interior points
    # add nothing to the interpolation, and fewer knots make a smaller ONNX graph.
    change = np.flatnonzero(np.diff(fitted) != 0.0)
    starts = np.concatenate(([0], change + 1))
    ends = np.concatenate((change, [len(x) - 1]))
    keep = np.unique(np.concatenate((starts, ends)))
    return x[keep].copy(), fitted[keep].copy()


class PlattCalibrator(_Calibrator):
    """Platt scaling: ``p = 1 / (1 + exp(a * score + b))``.

    Fitted by Newton's method with backtracking on the log loss against Platt's
    smoothed targets ``(N+ + 1)/(N+ + 2)`` and ``1/(N- + 2)``, which keep the
    fit finite on separable data (Lin, Lin & Weng 2007). Sample weights count
    as repeated observations.
    """

    kind = "platt"
    # The table spans the scores where p is within this of 0 or 1; beyond, its
    # constant ends differ from the sigmoid by less than this.
    TAIL = 1e-7

    def __init__(self, *, max_iter: int = 100, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(
        self, scores: ArrayLike, outcomes: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Self:
        x, y, w = _pairs(scores, outcomes, sample_weight)
        positives = float(np.sum(w * y))
        negatives = float(np.sum(w * (1.0 - y)))
        high = (positives + 1.0) / (positives + 2.0)
        low = 1.0 / (negatives + 2.0)
        target = y * high + (1.0 - y) * low
        self.a_, self.b_, self.n_iter_ = _newton_platt(
            x,
            target,
            w,
            prior=(negatives + 1.0) / (positives + 1.0),
            max_iter=self.max_iter,
            tol=self.tol,
        )
        self.n_samples_ = len(x)
        return self

    def predict(self, scores: ArrayLike) -> FloatArray:
        _require_fitted(self, "a_")
        z = self.a_ * np.asarray(scores, dtype=np.float64) + self.b_
        return _sigmoid(-z)

    def to_table(self, n_knots: int = 1025) -> CalibrationTable:
        """The sigmoid sampled at ``n_knots`` points evenly spaced in ``a·x + b``.

        Linear interpolation of the logistic with step ``Δ`` errs by at most
        ``Δ² max|σ''| / 8`` (``max|σ''| = 1/(6√3)``); ``max_error`` adds the tail.
        """
        _require_fitted(self, "a_")
        if n_knots < 2:
            raise ProgrammerError("n_knots must be at least 2")
        if self.a_ == 0.0:
            level = float(_sigmoid(np.asarray([-self.b_]))[0])
            return CalibrationTable(np.array([-1.0, 1.0]), np.array([level, level]))
        reach = math.log((1.0 - self.TAIL) / self.TAIL)
        z = np.linspace(-reach, reach, n_knots)
        x = np.sort((z - self.b_) / self.a_)
        y = self.predict(x)
        step = 2.0 * reach / (n_knots - 1)
        bound = step**2 / (8.0 * 6.0 * math.sqrt(3.0)) + self.TAIL
        return CalibrationTable(x, y, max_error=bound)

    def _params(self) -> dict[str, Any]:
        return {"max_iter": self.max_iter, "tol": self.tol}

    def _fitted(self) -> dict[str, Any] | None:
        if not hasattr(self, "a_"):
            return None
        return {"a": self.a_, "b": self.b_, "n_iter": self.n_iter_, "n_samples": self.n_samples_}

    def _restore(self, fitted: dict[str, Any]) -> None:
        self.a_ = float(fitted["a"])
        self.b_ = float(fitted["b"])
        self.n_iter_ = int(fitted["n_iter"])
        self.n_samples_ = int(fitted["n_samples"])


def _sigmoid(z: FloatArray) -> FloatArray:
    # Split by sign so exp never overflows.
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def _platt_loss(a: float, b: float, x: FloatArray, t: FloatArray, w: FloatArray) -> float:
    # -log-likelihood of p = σ(-(a x + b)) written with logaddexp for stability.
    z = a * x + b
    return float(np.sum(w * (t * np.logaddexp(0.0, z) + (1.0 - t) * np.logaddexp(0.0, -z))))


def _newton_platt(
    x: FloatArray,
    t: FloatArray,
    w: FloatArray,
    *,
    prior: float,
    max_iter: int,
    tol: float,
) -> tuple[float, float, int]:
    a, b = 0.0, math.log(prior)
    loss = _platt_loss(a, b, x, t, w)
    for iteration in range(1, max_iter + 1):
        p = _sigmoid(-(a * x + b))
        # d loss / dz = t - p for z = a x + b; Hessian weight p (1 - p).
        residual = w * (t - p)
        curvature = w * p * (1.0 - p)
        g_a, g_b = float(residual @ x), float(residual.sum())
        h_aa = float(curvature @ (x * x)) + 1e-12
        h_ab = float(curvature @ x)
        h_bb = float(curvature.sum()) + 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        if abs(g_a) < tol * len(x) and abs(g_b) < tol * len(x):
            return a, b, iteration - 1
        step_a = -(h_bb * g_a - h_ab * g_b) / det
        step_b = -(-h_ab * g_a + h_aa * g_b) / det
        scale = 1.0
        while scale >= 1e-10:
            new_a, new_b = a + scale * step_a, b + scale * step_b
            new_loss = _platt_loss(new_a, new_b, x, t, w)
            if new_loss < loss + 1e-4 * scale * (g_a * step_a + g_b * step_b):
                break
            scale /= 2.0
        else:
            # No decrease along the Newton direction: we are at the optimum to
            # within floating-point resolution.
            return a, b, iteration
        a, b, loss = new_a, new_b, new_loss
    return a, b, max_iter


def _require_fitted(calibrator: object, attribute: str) -> None:
    if not hasattr(calibrator, attribute):
        raise ProgrammerError(f"{type(calibrator).__name__} is not fitted; call fit() first")


Calibrator = IsotonicCalibrator | PlattCalibrator


def calibrator_from_dict(payload: dict[str, Any]) -> Calibrator:
    kinds: dict[str, type[IsotonicCalibrator] | type[PlattCalibrator]] = {
        IsotonicCalibrator.kind: IsotonicCalibrator,
        PlattCalibrator.kind: PlattCalibrator,
    }
    kind = payload.get("kind")
    if kind not in kinds:
        raise DataError(f"unknown calibrator kind {kind!r}")
    return kinds[str(kind)].from_dict(payload)


def calibrator_from_json(text: str) -> Calibrator:
    return calibrator_from_dict(json.loads(text))


# --- expected calibration error -------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReliabilityBins:
    """Per-bin count, mean predicted probability and observed frequency (empty bins dropped)."""

    count: NDArray[np.int64]
    mean_probability: FloatArray
    frequency: FloatArray
    strategy: str

    @property
    def ece(self) -> float:
        total = int(self.count.sum())
        if not total:
            return math.nan
        gap = np.abs(self.mean_probability - self.frequency)
        return float(np.sum(self.count * gap) / total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "count": self.count.tolist(),
            "mean_probability": self.mean_probability.tolist(),
            "frequency": self.frequency.tolist(),
            "ece": self.ece,
        }


def reliability_bins(
    probabilities: ArrayLike,
    outcomes: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> ReliabilityBins:
    """Bin predictions for a reliability diagram / ECE.

    ``uniform``: equal-width bins on [0, 1] (1.0 falls in the last bin).
    ``quantile``: equal-mass bins — the predictions sorted and cut into
    ``n_bins`` runs whose sizes differ by at most one.
    """
    if n_bins < 1:
        raise ProgrammerError("n_bins must be at least 1")
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ProgrammerError("probabilities and outcomes must be 1-D of equal length")
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    if ((p < 0.0) | (p > 1.0)).any():
        raise DataError("probabilities must lie in [0, 1]")
    if strategy == "uniform":
        index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    elif strategy == "quantile":
        index = np.empty(len(p), dtype=np.int64)
        order = np.argsort(p, kind="stable")
        for number, chunk in enumerate(np.array_split(order, n_bins)):
            index[chunk] = number
    else:
        raise ProgrammerError(f"unknown binning strategy {strategy!r}")
    count = np.bincount(index, minlength=n_bins)
    used = count > 0
    with np.errstate(invalid="ignore"):
        mean_p = np.bincount(index, weights=p, minlength=n_bins) / count
        freq = np.bincount(index, weights=y, minlength=n_bins) / count
    return ReliabilityBins(count[used].astype(np.int64), mean_p[used], freq[used], strategy)


def expected_calibration_error(
    probabilities: ArrayLike,
    outcomes: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """ECE = Σ_b (n_b / n) |mean p_b − frequency_b|; NaN with no finite pairs."""
    return reliability_bins(probabilities, outcomes, n_bins=n_bins, strategy=strategy).ece
