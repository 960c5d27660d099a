"""Both estimators find a planted linear signal, including the part carried by social text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.base import MultiHorizonEstimator
from quantgate.ml.estimators.lgbm import LightGBMConfig, LightGBMEstimator
from quantgate.ml.estimators.multimodal import MultimodalConfig, MultimodalEstimator
from quantgate.ml.estimators.synthetic import SyntheticSet, planted_signal

TRAIN = slice(0, 4_000)
TEST = slice(4_000, 5_000)


def lightgbm() -> LightGBMEstimator:
    return LightGBMEstimator(
        LightGBMConfig(
            n_estimators=120,
            learning_rate=0.08,
            num_leaves=8,
            min_data_in_leaf=40,
            feature_fraction=0.8,
            num_threads=1,
        )
    )


def multimodal() -> MultimodalEstimator:
    return MultimodalEstimator(
        MultimodalConfig(
            market_hidden=32,
            market_embedding=16,
            text_hidden=16,
            text_embedding=8,
            fusion_hidden=16,
            max_epochs=12,
            batch_size=128,
            learning_rate=3e-3,
            num_threads=1,
        )
    )


@pytest.fixture(scope="module")
def data() -> SyntheticSet:
    return planted_signal(5_000, n_market=24, n_text=16, seed=21)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    known = ~np.isnan(b)
    return float(np.corrcoef(a[known], b[known])[0, 1])


@pytest.mark.parametrize("factory", [lightgbm, multimodal], ids=["lightgbm", "multimodal"])
def test_positive_out_of_sample_ic_at_every_horizon(factory: Any, data: SyntheticSet) -> None:
    train, test = data.rows(TRAIN), data.rows(TEST)
    estimator: MultiHorizonEstimator[Any] = factory()
    estimator.fit(
        train.features, train.targets, feature_names=train.feature_names, blocks=train.blocks
    )
    prediction = estimator.predict(test.features)
    for horizon in Horizon:
        p, truth = prediction[horizon], test.targets[horizon]
        ic = correlation(p.expected_return, truth.forward_return)
        assert ic > 0.15, f"{horizon}: IC {ic:.3f}"
        # The text block carries half the signal; the model must have used it.
        assert correlation(p.expected_return, test.text_signal) > 0.1, horizon
        assert correlation(np.log(p.vol_forecast), truth.log_vol) > 0.5, horizon
        assert correlation(p.direction_score, truth.direction) > 0.1, horizon
