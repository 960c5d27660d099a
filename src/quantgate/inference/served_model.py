"""One registry model made ready to score stored feature rows exactly as it was trained.

Training refits the `market_latent` block on its own window and may leave feature
blocks out (their columns set to NaN); the artifact records both (metadata
`metrics.market_latent`, `metrics.feature_blocks`). Serving the stored row as is
would feed the model a latent from another fit — so every row is re-projected
with the model's own fit and masked the same way before ONNX Runtime sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from quantgate.core.enums import Horizon
from quantgate.core.errors import ConfigurationError
from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.contract import CONTRACT, FeatureContract
from quantgate.features.units import LATENT_DATASET
from quantgate.ml.export.loader import OnnxMultiHorizonModel

Float32Matrix = np.ndarray[Any, np.dtype[np.float32]]
IndexArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class HorizonForecast:
    expected_return: float
    signal_confidence: float
    vol_forecast: float
    direction_score: float


class ServedModel:
    """An ONNX multi-horizon model plus the input preparation its training used."""

    def __init__(self, model: OnnxMultiHorizonModel, contract: FeatureContract = CONTRACT) -> None:
        if tuple(model.feature_names) != contract.names:
            raise ConfigurationError(
                "the model's feature names differ from the running feature contract",
                fix="serve a model trained on the current feature contract",
            )
        self.model = model
        metrics = model.metadata.metrics
        latent_payload = metrics.get("market_latent") if isinstance(metrics, dict) else None
        self._latent: MarketLatent | None = None
        self._latent_inputs = np.zeros(0, dtype=np.int64)
        self._latent_outputs = np.zeros(0, dtype=np.int64)
        latent_columns = contract.dataset_columns(LATENT_DATASET)
        if latent_columns:
            if not isinstance(latent_payload, dict):
                raise ConfigurationError(
                    "the artifact lacks its market_latent fit (metadata metrics.market_latent)",
                    fix="re-export the model with `quantgate ml train`",
                )
            self._latent = MarketLatent.from_dict(latent_payload)
            self._latent_inputs = _indices(contract, self._latent.input_columns)
            self._latent_outputs = _indices(contract, self._latent.columns)
        blocks = metrics.get("feature_blocks") if isinstance(metrics, dict) else None
        self._masked = (
            np.zeros(0, dtype=np.int64)
            if not isinstance(blocks, list)
            else _indices(
                contract,
                tuple(
                    column
                    for block in contract.blocks
                    if block not in blocks
                    for column in contract.block_columns(block)
                ),
            )
        )

    @property
    def horizons(self) -> tuple[Horizon, ...]:
        return self.model.horizons

    def prepare(self, rows: Float32Matrix) -> Float32Matrix:
        X = np.array(rows, dtype=np.float32, ndmin=2)  # noqa: N806 - scikit-learn name
        if self._latent is not None:
            inputs = X[:, self._latent_inputs].astype(np.float64)
            X[:, self._latent_outputs] = self._latent.transform_matrix(inputs).astype(np.float32)
        if len(self._masked):
            X[:, self._masked] = np.nan
        return X

    def forecast(self, rows: Float32Matrix) -> list[dict[Horizon, HorizonForecast]]:
        """One {horizon: forecast} per input row."""
        prediction = self.model.predict(self.prepare(rows))
        return [
            {
                h: HorizonForecast(
                    float(prediction[h].expected_return[i]),
                    float(prediction[h].signal_confidence[i]),
                    float(prediction[h].vol_forecast[i]),
                    float(prediction[h].direction_score[i]),
                )
                for h in prediction.horizons
            }
            for i in range(prediction.n_rows)
        ]


def _indices(contract: FeatureContract, names: tuple[str, ...]) -> IndexArray:
    index = contract.index
    missing = [name for name in names if name not in index]
    if missing:
        raise ConfigurationError(
            f"the model refers to columns the feature contract lacks: {missing[:3]}",
            fix="serve a model trained on the current feature contract",
        )
    return np.asarray([index[name] for name in names], dtype=np.int64)
