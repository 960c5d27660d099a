"""Multimodal network estimator (PyTorch, CPU): market and social-text encoders, fused.

The social_text_latent block (384 MiniLM dims + post statistics) is encoded
separately from the market-side blocks because the two differ in scale,
sparsity and meaning (text is missing whenever nobody posted); each encoder
compresses its modality before the fused trunk mixes them. One small linear
head per horizon predicts return, log-vol and a direction logit, trained with
a weighted sum of Huber (return), MSE (log-vol) and BCE (direction) losses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.base import EstimatorConfig, MultiHorizonEstimator
from quantgate.ml.estimators.inputs import (
    Float32Array,
    FloatArray,
    TrainingData,
    market_side_columns,
    text_columns,
    time_ordered_split,
)
from quantgate.ml.estimators.multimodal_net import MultimodalNet, NetShape, Scaling
from quantgate.ml.estimators.prediction import RawHeads
from quantgate.ml.estimators.torch_training import (
    LoopSettings,
    LossWeights,
    TrainingHistory,
    TrainingRows,
    predict_network,
    torch_session,
    train_network,
)

_STATS_CHUNK = 65_536
_MIN_STD = 1e-8


class MultimodalConfig(EstimatorConfig):
    market_hidden: int = Field(default=256, ge=1)
    market_embedding: int = Field(default=64, ge=1)
    text_hidden: int = Field(default=128, ge=1)
    text_embedding: int = Field(default=32, ge=1)
    fusion_hidden: int = Field(default=64, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    input_clip: float = Field(default=5.0, gt=0.0)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=1e-4, ge=0.0)
    batch_size: int = Field(default=512, ge=1)
    max_epochs: int = Field(default=40, ge=1)
    patience: int = Field(default=5, ge=1)
    grad_clip: float = Field(default=1.0, gt=0.0)
    return_loss_weight: float = Field(default=1.0, ge=0.0)
    vol_loss_weight: float = Field(default=0.5, ge=0.0)
    direction_loss_weight: float = Field(default=1.0, ge=0.0)
    huber_delta: float = Field(default=1.0, gt=0.0)
    # Unlike boosting with a small learning rate, a network has no sensible
    # fixed epoch count, so early stopping is on by default here.
    validation_fraction: float = Field(default=0.1, ge=0.0, le=0.5)


class MultimodalEstimator(MultiHorizonEstimator[MultimodalConfig]):
    kind: ClassVar[str] = "multimodal"

    network_: MultimodalNet
    history_: TrainingHistory
    # The fitted scaling, also held inside network_ as float32 buffers (and so
    # inside the exported graph); kept here in float64 for inspection.
    feature_mean_: FloatArray
    feature_std_: FloatArray
    target_mean_: FloatArray  # (horizons, 2): return, log-vol
    target_std_: FloatArray

    def __init__(self, config: MultimodalConfig | None = None) -> None:
        super().__init__(config or MultimodalConfig())

    def _fit(self, data: TrainingData) -> None:
        config = self.config
        split = time_ordered_split(
            data.n_rows, config.validation_fraction, config.validation_gap_rows
        )
        fit_features = data.features[split.fit]
        targets = np.stack(
            [
                np.stack([t.forward_return, t.log_vol, t.direction], axis=1)
                for t in (data.targets[h] for h in config.horizons)
            ],
            axis=1,
        )  # (N, H, 3)
        target_mean, target_std = _target_scaling(targets[split.fit])
        feature_mean, feature_std = _feature_scaling(fit_features)
        standardised = targets.copy()
        standardised[..., :2] = (targets[..., :2] - target_mean) / target_std
        weight = (
            np.ones(data.n_rows)
            if data.sample_weight is None
            else data.sample_weight / data.sample_weight.mean()
        )

        def rows(part: slice) -> TrainingRows:
            return TrainingRows(
                data.features[part],
                standardised[part].astype(np.float32),
                weight[part].astype(np.float32),
            )

        valid = None
        # A tail with no weight or no known target would score every epoch 0 and
        # stop training after `patience` epochs; train the full budget instead.
        if (
            split.valid is not None
            and weight[split.valid].sum() > 0
            and not np.isnan(targets[split.valid]).all()
        ):
            valid = rows(split.valid)
        with torch_session(threads=config.num_threads, seed=config.seed):
            network = MultimodalNet(
                market_columns=market_side_columns(data.blocks),
                text_columns=text_columns(data.blocks),
                n_horizons=len(config.horizons),
                shape=NetShape(
                    market_hidden=config.market_hidden,
                    market_embedding=config.market_embedding,
                    text_hidden=config.text_hidden,
                    text_embedding=config.text_embedding,
                    fusion_hidden=config.fusion_hidden,
                    dropout=config.dropout,
                    input_clip=config.input_clip,
                ),
                scaling=Scaling(feature_mean, feature_std, target_mean, target_std),
            )
            history = train_network(
                network, rows(split.fit), valid, self._loop_settings(), self._loss_weights()
            )
        self.network_ = network
        self.history_ = history
        self.feature_mean_, self.feature_std_ = feature_mean, feature_std
        self.target_mean_, self.target_std_ = target_mean, target_std

    def _predict_raw(self, features: Float32Array) -> dict[Horizon, RawHeads]:
        with torch_session(threads=self.config.num_threads):
            outputs = predict_network(self.network_, features)
        return {
            horizon: RawHeads(*outputs[3 * i : 3 * i + 3])
            for i, horizon in enumerate(self.config.horizons)
        }

    def _loop_settings(self) -> LoopSettings:
        c = self.config
        return LoopSettings(
            max_epochs=c.max_epochs,
            batch_size=c.batch_size,
            learning_rate=c.learning_rate,
            weight_decay=c.weight_decay,
            patience=c.patience,
            grad_clip=c.grad_clip,
            seed=c.seed,
        )

    def _loss_weights(self) -> LossWeights:
        c = self.config
        return LossWeights(
            expected_return=c.return_loss_weight,
            log_vol=c.vol_loss_weight,
            direction=c.direction_loss_weight,
            huber_delta=c.huber_delta,
        )


def _feature_scaling(features: Float32Array) -> tuple[FloatArray, FloatArray]:
    """NaN-aware column mean and std in float64, two passes over row chunks (no full
    float64 copy; centring before squaring avoids cancellation on large-valued columns).

    A column never observed gets mean 0 / std 1; a constant one std 1, so it
    standardises to 0 rather than dividing by zero.
    """
    n_features = features.shape[1]
    count = np.zeros(n_features)
    total = np.zeros(n_features)
    for chunk in _float64_chunks(features):
        known = ~np.isnan(chunk)
        count += known.sum(axis=0)
        total += np.where(known, chunk, 0.0).sum(axis=0)
    mean = total / np.maximum(count, 1)
    squares = np.zeros(n_features)
    for chunk in _float64_chunks(features):
        centred = chunk - mean
        squares += np.where(np.isnan(centred), 0.0, centred * centred).sum(axis=0)
    std = np.sqrt(squares / np.maximum(count, 1))
    return mean, np.where(std > _MIN_STD, std, 1.0)


def _float64_chunks(features: Float32Array) -> Iterator[FloatArray]:
    for start in range(0, features.shape[0], _STATS_CHUNK):
        yield features[start : start + _STATS_CHUNK].astype(np.float64)


def _target_scaling(targets: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(H, 2) mean and std of the return and log-vol targets over their known rows."""
    values = targets[..., :2]
    known = ~np.isnan(values)
    count = np.maximum(known.sum(axis=0), 1)
    mean = np.where(known, values, 0.0).sum(axis=0) / count
    centred = np.where(known, values - mean, 0.0)
    std = np.sqrt((centred * centred).sum(axis=0) / count)
    return mean, np.where(std > _MIN_STD, std, 1.0)
