"""The estimator contract every model in quantgate follows (scikit-learn style).

    estimator = LightGBMEstimator(LightGBMConfig(seed=7))
    estimator.fit(X, targets, feature_names=names, blocks=blocks)   # returns self
    prediction = estimator.predict(X_new)                           # MultiHorizonPrediction
    estimator.set_confidence_calibration(Horizon.H1, knots_x, knots_y)

- The constructor only stores the frozen config; everything learned is set by
  `fit` on attributes whose names end in `_`, so "fitted" is visible and a refit
  starts from nothing (old calibrations included: they belonged to the old
  model's out-of-sample predictions).
- `targets` maps each configured horizon to HorizonTargets; a row whose target
  is NaN is left out of that target's model only.
- `blocks` maps block name → column indices and must partition the columns;
  `social_text_latent` is the text side, every other block is market side.
- Identical data and config (seed included) give identical predictions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, Generic, Self, TypeVar

from numpy.typing import ArrayLike
from pydantic import Field, field_validator

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.ml.estimators.inputs import (
    Float32Array,
    HorizonTargets,
    TrainingData,
    check_features,
    prepare_training_data,
)
from quantgate.ml.estimators.prediction import (
    ConfidenceCalibration,
    MultiHorizonPrediction,
    RawHeads,
    assemble_prediction,
)

ALL_HORIZONS: tuple[Horizon, ...] = tuple(Horizon)


class NotFittedError(ProgrammerError):
    """The estimator was used before `fit`."""


class EstimatorConfig(ComponentConfig):
    """Settings every estimator shares. Everything that can change a prediction is here,
    so `config_hash` identifies a model recipe (thread counts included: floating-point
    reductions may split differently)."""

    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    horizons: tuple[Horizon, ...] = ALL_HORIZONS
    num_threads: int = Field(default=2, ge=1, le=256)
    # Early stopping: the most recent `validation_fraction` of rows (rows are in
    # time order) is held out, after dropping `validation_gap_rows` rows so no
    # training label window overlaps a validation one. 0 turns early stopping off.
    validation_fraction: float = Field(default=0.0, ge=0.0, le=0.5)
    validation_gap_rows: int = Field(default=0, ge=0)

    @field_validator("horizons")
    @classmethod
    def _distinct_horizons(cls, value: tuple[Horizon, ...]) -> tuple[Horizon, ...]:
        if not value:
            raise ValueError("at least one horizon is required")
        if len(set(value)) != len(value):
            raise ValueError("horizons repeat")
        return value


ConfigT = TypeVar("ConfigT", bound=EstimatorConfig)


class MultiHorizonEstimator(ABC, Generic[ConfigT]):
    """Base class: input checking, learned-state bookkeeping and calibration.

    Subclasses implement `_fit` (set their own `*_` attributes) and
    `_predict_raw` (raw heads for validated float32 features).
    """

    kind: ClassVar[str]

    feature_names_: tuple[str, ...]
    n_features_in_: int
    blocks_: dict[str, tuple[int, ...]]
    horizons_: tuple[Horizon, ...]
    calibrations_: dict[Horizon, ConfidenceCalibration]

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "unfitted"
        return f"{type(self).__name__}(config_hash={self.config.config_hash[:12]}, {state})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def fit(
        self,
        X: ArrayLike,  # noqa: N803 - the scikit-learn name for the design matrix
        targets: Mapping[Horizon, HorizonTargets] | Mapping[str, HorizonTargets],
        *,
        feature_names: Sequence[str],
        blocks: Mapping[str, Sequence[int]],
        sample_weight: ArrayLike | None = None,
    ) -> Self:
        self._forget()
        data = prepare_training_data(
            X,
            targets,
            feature_names=feature_names,
            blocks=blocks,
            sample_weight=sample_weight,
            horizons=self.config.horizons,
        )
        self._fit(data)
        self.feature_names_ = data.feature_names
        self.blocks_ = dict(data.blocks)
        self.horizons_ = self.config.horizons
        self.calibrations_ = {}
        # Set last: it is what `is_fitted` looks at, so a failed fit stays unfitted.
        self.n_features_in_ = data.n_features
        return self

    def predict(self, X: ArrayLike) -> MultiHorizonPrediction:  # noqa: N803
        self._check_fitted()
        features = check_features(X, self.n_features_in_)
        return assemble_prediction(self._predict_raw(features), self.calibrations_)

    def set_confidence_calibration(
        self, horizon: Horizon, knots_x: Sequence[float], knots_y: Sequence[float]
    ) -> None:
        """Attach the out-of-sample calibration of `horizon`'s signal confidence."""
        self._check_fitted()
        horizon = Horizon(horizon)
        if horizon not in self.horizons_:
            raise DataError(f"model has no horizon {horizon.value}", field="horizon")
        self.calibrations_[horizon] = ConfidenceCalibration.from_knots(knots_x, knots_y)

    def raw_heads(self, X: ArrayLike) -> dict[Horizon, RawHeads]:  # noqa: N803
        """The uncalibrated model outputs (what the ONNX graph computes)."""
        self._check_fitted()
        return self._predict_raw(check_features(X, self.n_features_in_))

    @abstractmethod
    def _fit(self, data: TrainingData) -> None: ...

    @abstractmethod
    def _predict_raw(self, features: Float32Array) -> dict[Horizon, RawHeads]: ...

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _forget(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
