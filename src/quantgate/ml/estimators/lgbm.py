"""Gradient-boosted trees (LightGBM): three boosters per horizon.

Per horizon:
- return:    regression on the forward log return (Huber by default: crypto
             returns are fat-tailed and a few squared outliers would otherwise
             dominate the gradient);
- log-vol:   L2 regression on log realised volatility (logs make the target
             roughly Gaussian and keep the forecast positive after exp);
- direction: binary classifier on the sign of the return.

Why a separate direction model rather than Φ(μ/σ) from the other two: the
sign is the outlier-proof part of a low signal-to-noise target, a classifier
optimises log-loss on it directly, and the return regression is shrunk hard
toward zero where the signal is weak, which would squeeze Φ(μ/σ) into a narrow
band around 0.5. The cost is one more booster per horizon (about a third more
fit time); the calibrator later maps raw confidence onto observed hit rates.

All boosters share one binned LightGBM Dataset (binning 500+ columns is a
large part of the fit time); each model trains on a row subset of it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
from pydantic import Field

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.base import EstimatorConfig, MultiHorizonEstimator
from quantgate.ml.estimators.inputs import (
    Float32Array,
    FloatArray,
    HorizonTargets,
    IndexArray,
    TimeSplit,
    TrainingData,
    time_ordered_split,
)
from quantgate.ml.estimators.lgbm_trees import finalize_booster
from quantgate.ml.estimators.prediction import Head, RawHeads

_MAD_TO_SD = 1.4826  # median absolute deviation → standard deviation under normality


class LightGBMConfig(EstimatorConfig):
    """Defaults sized for ~100k-600k rows × ~530 features on 2 cores with noisy targets:
    slow learning, strong row/column subsampling and large leaves regularise against
    fitting noise; 63 bins keep the binned matrix at one byte per value."""

    n_estimators: int = Field(default=400, ge=1)
    learning_rate: float = Field(default=0.03, gt=0.0, le=1.0)
    num_leaves: int = Field(default=31, ge=2)
    max_depth: int = Field(default=-1, ge=-1)
    min_data_in_leaf: int = Field(default=200, ge=1)
    lambda_l2: float = Field(default=10.0, ge=0.0)
    feature_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    bagging_fraction: float = Field(default=0.7, gt=0.0, le=1.0)
    bagging_freq: int = Field(default=1, ge=0)
    max_bin: int = Field(default=63, ge=3, le=255)
    return_objective: Literal["huber", "regression"] = "huber"
    # Huber's switch from squared to linear loss, in robust standard deviations
    # of the training returns (the scale differs ~13x between 1h and 7d).
    huber_delta_sd: float = Field(default=1.0, gt=0.0)
    early_stopping_rounds: int = Field(default=50, ge=1)


_METRIC = {"huber": "huber", "regression": "l2", "binary": "binary_logloss"}


class LightGBMEstimator(MultiHorizonEstimator[LightGBMConfig]):
    kind: ClassVar[str] = "lightgbm"

    models_: dict[Horizon, dict[Head, lgb.Booster]]
    best_iterations_: dict[Horizon, dict[Head, int]]

    def __init__(self, config: LightGBMConfig | None = None) -> None:
        super().__init__(config or LightGBMConfig())

    def _fit(self, data: TrainingData) -> None:
        config = self.config
        split = time_ordered_split(
            data.n_rows, config.validation_fraction, config.validation_gap_rows
        )
        binned = lgb.Dataset(
            data.features,
            label=np.zeros(data.n_rows, dtype=np.float32),
            feature_name=[f"f{i}" for i in range(data.n_features)],
            params=self._dataset_params(),
            free_raw_data=True,
        ).construct()
        models: dict[Horizon, dict[Head, lgb.Booster]] = {}
        iterations: dict[Horizon, dict[Head, int]] = {}
        for horizon in config.horizons:
            models[horizon], iterations[horizon] = {}, {}
            for head, target, params in self._heads(data.targets[horizon]):
                booster = self._train_one(binned, split, target, data.sample_weight, params)
                models[horizon][head] = booster
                iterations[horizon][head] = booster.current_iteration()
        self.models_ = models
        self.best_iterations_ = iterations

    def _predict_raw(self, features: Float32Array) -> dict[Horizon, RawHeads]:
        threads = self.config.num_threads
        return {
            horizon: RawHeads.from_mapping(
                {
                    head: np.asarray(
                        booster.predict(features, num_threads=threads), dtype=np.float64
                    )
                    for head, booster in by_head.items()
                }
            )
            for horizon, by_head in self.models_.items()
        }

    def _dataset_params(self) -> dict[str, Any]:
        # Dataset-level parameters must be identical on the shared Dataset and
        # on every training call, or LightGBM refuses to reuse the bins.
        return {
            "max_bin": self.config.max_bin,
            # LightGBM drops unsplittable columns at binning time using this value.
            "min_data_in_leaf": self.config.min_data_in_leaf,
            "seed": self.config.seed,
            "num_threads": self.config.num_threads,
            "verbosity": -1,
        }

    def _base_params(self) -> dict[str, Any]:
        config = self.config
        return {
            **self._dataset_params(),
            "learning_rate": config.learning_rate,
            "num_leaves": config.num_leaves,
            "max_depth": config.max_depth,
            "lambda_l2": config.lambda_l2,
            "feature_fraction": config.feature_fraction,
            "bagging_fraction": config.bagging_fraction,
            "bagging_freq": config.bagging_freq,
            # Reproducible across runs: fixed row/column layout and no timing-based
            # choice between row- and column-wise histograms.
            "deterministic": True,
            "force_col_wise": True,
        }

    def _heads(self, targets: HorizonTargets) -> list[tuple[Head, FloatArray, dict[str, Any]]]:
        base = self._base_params()
        objective = self.config.return_objective
        return_params: dict[str, Any] = {
            **base,
            "objective": objective,
            "metric": _METRIC[objective],
        }
        if objective == "huber":
            return_params["alpha"] = self.config.huber_delta_sd * _robust_scale(
                targets.forward_return
            )
        return [
            (Head.EXPECTED_RETURN, targets.forward_return, return_params),
            (Head.LOG_VOL, targets.log_vol, {**base, "objective": "regression", "metric": "l2"}),
            (
                Head.DIRECTION_PROB,
                targets.direction,
                {**base, "objective": "binary", "metric": _METRIC["binary"]},
            ),
        ]

    def _train_one(
        self,
        binned: lgb.Dataset,
        split: TimeSplit,
        target: FloatArray,
        sample_weight: FloatArray | None,
        params: dict[str, Any],
    ) -> lgb.Booster:
        train_rows = _known_rows(target, split.fit)
        train_set = _subset(binned, train_rows, target, sample_weight)
        valid_sets: list[lgb.Dataset] = []
        callbacks: list[Any] = []
        if split.valid is not None:
            valid_rows = _known_rows(target, split.valid)
            if valid_rows.size:
                valid_sets.append(_subset(binned, valid_rows, target, sample_weight))
                callbacks.append(
                    lgb.early_stopping(
                        self.config.early_stopping_rounds, first_metric_only=True, verbose=False
                    )
                )
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.config.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        best = booster.best_iteration if valid_sets and booster.best_iteration > 0 else None
        return finalize_booster(booster, best)


def _known_rows(target: FloatArray, rows: slice) -> IndexArray:
    known = np.flatnonzero(~np.isnan(target[rows]))
    return (known + (rows.start or 0)).astype(np.int64)


def _subset(
    binned: lgb.Dataset, rows: IndexArray, target: FloatArray, sample_weight: FloatArray | None
) -> lgb.Dataset:
    subset = binned.subset(rows.tolist()).construct()
    subset.set_label(target[rows])
    if sample_weight is not None:
        subset.set_weight(sample_weight[rows])
    return subset


def _robust_scale(values: FloatArray) -> float:
    known = values[~np.isnan(values)]
    scale = _MAD_TO_SD * float(np.median(np.abs(known - np.median(known))))
    if not scale > 0.0:
        scale = float(np.std(known))
    return scale if scale > 0.0 else 1.0
