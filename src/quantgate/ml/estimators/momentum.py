"""A plain momentum baseline behind the estimator contract, to judge models against.

Per horizon h: the expected return is the trailing log return over a lookback
times a scale, |least-squares slope| of the forward return on it (the sign is
momentum's by definition; only the size is learned, so the ranking — and the IC —
is plain momentum's); the volatility forecast is the trailing hourly
close-to-close volatility scaled by √h, with one learned log-bias per horizon so
its level is honest; the direction probability is Φ(expected / vol). Nothing
else is learned, so an ML model that cannot beat this is not adding anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field
from scipy.special import ndtr

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError
from quantgate.ml.estimators.base import EstimatorConfig, MultiHorizonEstimator
from quantgate.ml.estimators.inputs import Float32Array, TrainingData
from quantgate.ml.estimators.prediction import RawHeads

DEFAULT_LOOKBACK = {
    Horizon.H1.value: "mkt_ret_24h",
    Horizon.H4.value: "mkt_ret_72h",
    Horizon.D1.value: "mkt_ret_168h",
    Horizon.D7.value: "mkt_ret_720h",
}


class MomentumBaselineConfig(EstimatorConfig):
    lookback: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LOOKBACK))
    hourly_vol_feature: str = "mkt_vol_cc_168h"


class MomentumBaseline(MultiHorizonEstimator[MomentumBaselineConfig]):
    kind = "momentum"

    momentum_columns_: dict[Horizon, int]
    vol_column_: int
    log_vol_bias_: dict[Horizon, float]
    scale_: dict[Horizon, float]

    def _fit(self, data: TrainingData) -> None:
        index = {name: i for i, name in enumerate(data.feature_names)}
        missing = [
            name
            for name in (*self.config.lookback.values(), self.config.hourly_vol_feature)
            if name not in index
        ]
        if missing:
            raise DataError(
                f"the momentum baseline needs feature columns {missing}",
                field="feature_names",
                fix="train on the market block of the feature contract",
            )
        self.momentum_columns_ = {
            h: index[self.config.lookback[h.value]] for h in self.config.horizons
        }
        self.vol_column_ = index[self.config.hourly_vol_feature]
        weight = (
            np.ones(data.n_rows) if data.sample_weight is None else np.asarray(data.sample_weight)
        )
        biases: dict[Horizon, float] = {}
        scales: dict[Horizon, float] = {}
        for h in self.config.horizons:
            raw = self._raw_log_vol(data.features, h)
            target = data.targets[h].log_vol
            known = np.isfinite(raw) & np.isfinite(target) & (weight > 0)
            biases[h] = (
                float(np.average(target[known] - raw[known], weights=weight[known]))
                if known.any()
                else 0.0
            )
            momentum = data.features[:, self.momentum_columns_[h]].astype(np.float64)
            forward = data.targets[h].forward_return
            pairs = np.isfinite(momentum) & np.isfinite(forward) & (weight > 0)
            w, x, y = weight[pairs], momentum[pairs], forward[pairs]
            denominator = float(np.sum(w * x * x))
            scales[h] = abs(float(np.sum(w * x * y)) / denominator) if denominator > 0 else 0.0
        self.log_vol_bias_ = biases
        self.scale_ = scales

    def _raw_log_vol(self, features: Float32Array, horizon: Horizon) -> np.ndarray[Any, Any]:
        hourly = features[:, self.vol_column_].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_vol: np.ndarray[Any, Any] = np.log(
                np.maximum(hourly, 1e-8) * np.sqrt(horizon.hours)
            )
        return log_vol

    def _predict_raw(self, features: Float32Array) -> dict[Horizon, RawHeads]:
        out = {}
        for h in self.horizons_:
            momentum = features[:, self.momentum_columns_[h]].astype(np.float64)
            expected = np.nan_to_num(momentum * self.scale_[h], nan=0.0)
            log_vol = self._raw_log_vol(features, h) + self.log_vol_bias_[h]
            log_vol = np.where(np.isfinite(log_vol), log_vol, self.log_vol_bias_[h])
            probability = ndtr(expected / np.exp(log_vol))
            out[h] = RawHeads(expected, log_vol, np.clip(probability, 1e-6, 1 - 1e-6))
        return out
