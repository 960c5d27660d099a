"""What every multi-horizon model returns, and the one way raw heads become it.

A model (native LightGBM or torch, or its ONNX export) produces three raw heads
per horizon: the expected forward log return, the log of the realised
volatility over the horizon and the raw probability that the return is
positive. `assemble_prediction` turns those into a `MultiHorizonPrediction`;
the native estimators and the ONNX loader both call it, so the exported model
cannot drift from the trained one in how volatility or confidence is derived.

NumPy only: the ONNX runtime side imports this module and must not pull in
LightGBM or torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from quantgate.core.enums import Horizon
from quantgate.core.errors import ProgrammerError

FloatArray = NDArray[np.float64]

# A log-vol forecast is clipped to this range before exp(): the bounds lie far
# outside any realised market (e^-20 ≈ 2e-9, e^5 ≈ 148) and keep vol_forecast
# finite and strictly positive even if a head extrapolates wildly.
LOG_VOL_BOUNDS = (-20.0, 5.0)


class Head(StrEnum):
    """The raw outputs a model has per horizon; the value names the RawHeads field."""

    EXPECTED_RETURN = "expected_return"
    LOG_VOL = "log_vol"
    DIRECTION_PROB = "direction_prob"


@dataclass(frozen=True, slots=True)
class RawHeads:
    """One horizon's raw model outputs, one value per input row."""

    expected_return: FloatArray
    log_vol: FloatArray
    direction_prob: FloatArray

    def __getitem__(self, head: Head) -> FloatArray:
        array: FloatArray = getattr(self, head.value)
        return array

    @classmethod
    def from_mapping(cls, values: Mapping[Head, FloatArray]) -> RawHeads:
        return cls(**{head.value: np.asarray(values[head], dtype=np.float64) for head in Head})


@dataclass(frozen=True, slots=True)
class ConfidenceCalibration:
    """A monotone piecewise-linear map from raw to calibrated confidence.

    The input is the raw probability that the predicted direction is right,
    max(p, 1 - p); np.interp clamps outside the knots, so the table only needs
    to span the raw values seen out of sample. Accepts what
    `quantgate.ml.calibration` tables hold: ascending x (repeats allowed, a step),
    a single knot (a constant), y monotone in either direction.
    """

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]

    def __post_init__(self) -> None:
        x = np.asarray(self.knots_x, dtype=np.float64)
        y = np.asarray(self.knots_y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size < 1:
            raise ProgrammerError(
                f"calibration needs two equally long, non-empty knot lists, got {x.size} x "
                f"and {y.size} y"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ProgrammerError("calibration knots must be finite")
        if np.any(np.diff(x) < 0):
            raise ProgrammerError("calibration knots_x must be ascending")
        steps = np.diff(y)
        if np.any(steps < 0) and np.any(steps > 0):
            raise ProgrammerError("calibration knots_y must be monotone")
        # Both are probabilities; x outside [0, 1] means a table fitted on another score.
        if min(x[0], y.min()) < 0.0 or max(x[-1], y.max()) > 1.0:
            raise ProgrammerError("calibration knots must lie in [0, 1]")

    @classmethod
    def from_knots(
        cls, knots_x: Sequence[float], knots_y: Sequence[float]
    ) -> ConfidenceCalibration:
        return cls(tuple(float(v) for v in knots_x), tuple(float(v) for v in knots_y))

    def apply(self, raw_confidence: FloatArray) -> FloatArray:
        calibrated = np.interp(raw_confidence, self.knots_x, self.knots_y)
        return np.asarray(calibrated, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class HorizonPrediction:
    """Per-row forecasts for one horizon.

    - expected_return: forward log return over the horizon.
    - vol_forecast: realised volatility over the horizon (> 0).
    - direction_score: raw probability that the return is positive.
    - signal_confidence: calibrated probability that the predicted direction
      (up when direction_score >= 0.5) is right; raw max(p, 1 - p) until a
      calibration is attached.
    """

    expected_return: FloatArray
    vol_forecast: FloatArray
    direction_score: FloatArray
    signal_confidence: FloatArray

    @property
    def direction(self) -> NDArray[np.int8]:
        """+1 where the model calls the move up, -1 where it calls it down."""
        return np.where(self.direction_score >= 0.5, 1, -1).astype(np.int8)

    def __len__(self) -> int:
        return int(self.expected_return.shape[0])


class MultiHorizonPrediction(Mapping[Horizon, HorizonPrediction]):
    """Read-only mapping horizon → HorizonPrediction, every horizon of equal length."""

    __slots__ = ("_by_horizon",)

    def __init__(self, by_horizon: Mapping[Horizon, HorizonPrediction]) -> None:
        lengths = {len(p) for p in by_horizon.values()}
        if len(lengths) > 1:
            raise ProgrammerError(f"horizons disagree on the number of rows: {sorted(lengths)}")
        self._by_horizon = MappingProxyType(dict(by_horizon))

    def __getitem__(self, horizon: Horizon) -> HorizonPrediction:
        return self._by_horizon[horizon]

    def __iter__(self) -> Iterator[Horizon]:
        return iter(self._by_horizon)

    def __len__(self) -> int:
        return len(self._by_horizon)

    @property
    def horizons(self) -> tuple[Horizon, ...]:
        return tuple(self._by_horizon)

    @property
    def n_rows(self) -> int:
        return next((len(p) for p in self._by_horizon.values()), 0)

    def __repr__(self) -> str:
        names = ", ".join(h.value for h in self._by_horizon)
        return f"MultiHorizonPrediction(horizons=[{names}], n_rows={self.n_rows})"


def assemble_prediction(
    raw: Mapping[Horizon, RawHeads], calibrations: Mapping[Horizon, ConfidenceCalibration]
) -> MultiHorizonPrediction:
    out: dict[Horizon, HorizonPrediction] = {}
    for horizon, heads in raw.items():
        log_vol = np.clip(np.asarray(heads.log_vol, dtype=np.float64), *LOG_VOL_BOUNDS)
        # Probabilities from float32 graphs can land a hair outside [0, 1].
        p_up = np.clip(np.asarray(heads.direction_prob, dtype=np.float64), 0.0, 1.0)
        raw_confidence = np.maximum(p_up, 1.0 - p_up)
        calibration = calibrations.get(horizon)
        confidence = raw_confidence if calibration is None else calibration.apply(raw_confidence)
        out[horizon] = HorizonPrediction(
            expected_return=np.asarray(heads.expected_return, dtype=np.float64),
            vol_forecast=np.exp(log_vol),
            direction_score=p_up,
            signal_confidence=np.clip(confidence, 0.0, 1.0),
        )
    return MultiHorizonPrediction(out)
