"""Every estimator honours the one contract (in the spirit of sklearn's check_estimator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.ml.estimators.base import MultiHorizonEstimator, NotFittedError
from quantgate.ml.estimators.inputs import HorizonTargets
from quantgate.ml.estimators.lgbm import LightGBMConfig, LightGBMEstimator
from quantgate.ml.estimators.momentum import MomentumBaseline, MomentumBaselineConfig
from quantgate.ml.estimators.multimodal import MultimodalConfig, MultimodalEstimator
from quantgate.ml.estimators.prediction import MultiHorizonPrediction
from quantgate.ml.estimators.synthetic import SyntheticSet, planted_signal

AnyEstimator = MultiHorizonEstimator[Any]
Factory = Callable[..., AnyEstimator]


# Tests fit on one thread: models this small gain nothing from two, and on a busy
# 2-core runner OpenMP barriers made each fit ~10x slower.


def small_lightgbm(**overrides: object) -> LightGBMEstimator:
    values: dict[str, object] = {
        "n_estimators": 15,
        "min_data_in_leaf": 20,
        "num_leaves": 8,
        "validation_fraction": 0.2,
        "early_stopping_rounds": 5,
        "num_threads": 1,
    }
    return LightGBMEstimator(LightGBMConfig.model_validate(values | overrides))


def small_multimodal(**overrides: object) -> MultimodalEstimator:
    values: dict[str, object] = {
        "market_hidden": 16,
        "market_embedding": 8,
        "text_hidden": 8,
        "text_embedding": 4,
        "fusion_hidden": 8,
        "max_epochs": 2,
        "batch_size": 256,
        "num_threads": 1,
    }
    return MultimodalEstimator(MultimodalConfig.model_validate(values | overrides))


def small_momentum(**overrides: object) -> MomentumBaseline:
    # planted_signal names its columns mkt_000…; the baseline reads them as lookback returns.
    lookback = {"1h": "mkt_000", "4h": "mkt_001", "1d": "mkt_002", "7d": "mkt_003"}
    values: dict[str, object] = {"lookback": lookback, "hourly_vol_feature": "mkt_004"}
    return MomentumBaseline(MomentumBaselineConfig.model_validate(values | overrides))


ESTIMATORS = [
    pytest.param(small_lightgbm, id="lightgbm"),
    pytest.param(small_multimodal, id="multimodal"),
    pytest.param(small_momentum, id="momentum"),
]


@pytest.fixture(scope="module")
def data() -> SyntheticSet:
    return planted_signal(1_200, n_market=12, n_text=8, seed=3)


def fit(estimator: AnyEstimator, data: SyntheticSet) -> AnyEstimator:
    return estimator.fit(
        data.features, data.targets, feature_names=data.feature_names, blocks=data.blocks
    )


_fitted: dict[str, AnyEstimator] = {}


@pytest.fixture
def fitted(request: pytest.FixtureRequest, data: SyntheticSet) -> AnyEstimator:
    factory: Factory = request.param
    if factory.__name__ not in _fitted:
        _fitted[factory.__name__] = fit(factory(seed=11), data)
    return _fitted[factory.__name__]


def fitted_params() -> list[object]:
    return [pytest.param(p.values[0], id=p.id) for p in ESTIMATORS]


def assert_same(a: MultiHorizonPrediction, b: MultiHorizonPrediction) -> None:
    assert a.horizons == b.horizons
    for horizon in a:
        for field in ("expected_return", "vol_forecast", "direction_score", "signal_confidence"):
            np.testing.assert_array_equal(getattr(a[horizon], field), getattr(b[horizon], field))


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_fit_returns_self_and_sets_only_underscored_attributes(
    factory: Factory, data: SyntheticSet
) -> None:
    estimator = factory()
    before = set(vars(estimator))
    assert not any(name.endswith("_") for name in before)
    assert not estimator.is_fitted
    with pytest.raises(NotFittedError):
        estimator.predict(data.features)
    assert fit(estimator, data) is estimator
    learned = set(vars(estimator)) - before
    assert learned, "fit learned nothing"
    assert all(name.endswith("_") for name in learned), sorted(learned)
    assert {"feature_names_", "n_features_in_", "blocks_", "horizons_", "calibrations_"} <= learned
    assert estimator.n_features_in_ == data.features.shape[1]
    assert estimator.feature_names_ == data.feature_names


@pytest.mark.parametrize("fitted", fitted_params(), indirect=True)
def test_predict_gives_every_horizon_with_valid_ranges(
    fitted: AnyEstimator, data: SyntheticSet
) -> None:
    prediction = fitted.predict(data.features[:300])
    assert set(prediction) == set(Horizon)
    for horizon in Horizon:
        p = prediction[horizon]
        for values in (p.expected_return, p.vol_forecast, p.direction_score, p.signal_confidence):
            assert values.shape == (300,)
            assert values.dtype == np.float64
            assert np.all(np.isfinite(values))
        assert np.all(p.vol_forecast > 0)
        assert np.all((p.direction_score >= 0) & (p.direction_score <= 1))
        assert np.all((p.signal_confidence >= 0) & (p.signal_confidence <= 1))
        # Uncalibrated, the confidence is the raw probability of the called direction.
        np.testing.assert_allclose(
            p.signal_confidence, np.maximum(p.direction_score, 1 - p.direction_score)
        )
        assert set(np.unique(p.direction)) <= {-1, 1}


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_same_seed_gives_identical_predictions(factory: Factory, data: SyntheticSet) -> None:
    first = fit(factory(seed=5), data).predict(data.features[:200])
    second = fit(factory(seed=5), data).predict(data.features[:200])
    assert_same(first, second)


@pytest.mark.parametrize("fitted", fitted_params(), indirect=True)
def test_refuses_wrong_feature_width_naming_the_expected_one(
    fitted: AnyEstimator, data: SyntheticSet
) -> None:
    width = data.features.shape[1]
    with pytest.raises(DataError, match=f"expected width {width}"):
        fitted.predict(data.features[:10, :-1])
    with pytest.raises(DataError, match="2-D"):
        fitted.predict(data.features[0])


@pytest.mark.parametrize("fitted", fitted_params(), indirect=True)
def test_handles_nan_inputs(fitted: AnyEstimator, data: SyntheticSet) -> None:
    rows = data.features[:50].copy()
    rows[:10] = np.nan  # nothing known at all
    rows[10:30, ::2] = np.nan
    prediction = fitted.predict(rows)
    for horizon in prediction:
        assert np.all(np.isfinite(prediction[horizon].expected_return))
        assert np.all(prediction[horizon].vol_forecast > 0)


@pytest.mark.parametrize("fitted", fitted_params(), indirect=True)
def test_rejects_infinite_features(fitted: AnyEstimator, data: SyntheticSet) -> None:
    rows = data.features[:5].astype(np.float64)
    rows[2, 3] = np.inf
    with pytest.raises(DataError, match="infinite"):
        fitted.predict(rows)


@pytest.mark.parametrize("fitted", fitted_params(), indirect=True)
def test_empty_input_gives_empty_prediction(fitted: AnyEstimator, data: SyntheticSet) -> None:
    prediction = fitted.predict(data.features[:0])
    assert prediction.n_rows == 0
    assert set(prediction) == set(Horizon)


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_calibration_maps_raw_confidence_and_a_refit_drops_it(
    factory: Factory, data: SyntheticSet
) -> None:
    estimator = factory()
    with pytest.raises(NotFittedError):
        estimator.set_confidence_calibration(Horizon.H1, [0.5, 1.0], [0.5, 0.6])
    fit(estimator, data)
    knots_x, knots_y = [0.5, 0.55, 0.7, 1.0], [0.5, 0.51, 0.58, 0.62]
    estimator.set_confidence_calibration(Horizon.H4, knots_x, knots_y)
    prediction = estimator.predict(data.features[:100])
    p = prediction[Horizon.H4].direction_score
    np.testing.assert_allclose(
        prediction[Horizon.H4].signal_confidence,
        np.interp(np.maximum(p, 1 - p), knots_x, knots_y),
    )
    untouched = prediction[Horizon.H1]
    np.testing.assert_allclose(
        untouched.signal_confidence,
        np.maximum(untouched.direction_score, 1 - untouched.direction_score),
    )
    with pytest.raises(ProgrammerError, match="monotone"):
        estimator.set_confidence_calibration(Horizon.H1, [0.5, 0.7, 1.0], [0.7, 0.6, 0.8])
    fit(estimator, data)
    assert estimator.calibrations_ == {}


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_configured_horizons_only(factory: Factory, data: SyntheticSet) -> None:
    estimator = factory(horizons=(Horizon.D1, Horizon.H1))
    only = {Horizon.H1: data.targets[Horizon.H1], Horizon.D1: data.targets[Horizon.D1]}
    estimator.fit(data.features, only, feature_names=data.feature_names, blocks=data.blocks)
    assert estimator.predict(data.features[:5]).horizons == (Horizon.D1, Horizon.H1)
    with pytest.raises(DataError, match="no targets for horizon 1h"):
        estimator.fit(
            data.features,
            {Horizon.D1: data.targets[Horizon.D1]},
            feature_names=data.feature_names,
            blocks=data.blocks,
        )
    assert not estimator.is_fitted  # a failed fit leaves nothing half-learned


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_rejects_inconsistent_training_inputs(factory: Factory, data: SyntheticSet) -> None:
    estimator = factory()
    names, blocks = data.feature_names, data.blocks
    with pytest.raises(DataError, match="feature names"):
        estimator.fit(data.features, data.targets, feature_names=names[:-1], blocks=blocks)
    partial = {k: v for k, v in blocks.items() if k != "cross_asset"}
    with pytest.raises(DataError, match="belong to no block"):
        estimator.fit(data.features, data.targets, feature_names=names, blocks=partial)
    short = {
        h: HorizonTargets(t.forward_return[:-1], t.log_vol, t.direction)
        for h, t in data.targets.items()
    }
    with pytest.raises(DataError, match="shape"):
        estimator.fit(data.features, short, feature_names=names, blocks=blocks)
    one_class = {
        h: HorizonTargets(t.forward_return, t.log_vol, np.ones_like(t.direction))
        for h, t in data.targets.items()
    }
    with pytest.raises(DataError, match="both up and down"):
        estimator.fit(data.features, one_class, feature_names=names, blocks=blocks)
    with pytest.raises(DataError, match="sample_weight"):
        estimator.fit(
            data.features,
            data.targets,
            feature_names=names,
            blocks=blocks,
            sample_weight=-np.ones(data.n_rows),
        )


@pytest.mark.parametrize("factory", ESTIMATORS)
def test_sample_weight_and_nan_targets_are_honoured(factory: Factory, data: SyntheticSet) -> None:
    weight = np.where(np.arange(data.n_rows) % 2 == 0, 1.0, 0.0)
    weighted = factory().fit(
        data.features,
        data.targets,
        feature_names=data.feature_names,
        blocks=data.blocks,
        sample_weight=weight,
    )
    plain = fit(factory(), data)
    a = weighted.predict(data.features[:50])[Horizon.H1].expected_return
    b = plain.predict(data.features[:50])[Horizon.H1].expected_return
    assert not np.array_equal(a, b)
    # Targets unknown on most rows: those rows are left out, the fit still works.
    sparse = {
        h: HorizonTargets(
            np.where(np.arange(data.n_rows) < 400, t.forward_return, np.nan),
            t.log_vol,
            t.direction,
        )
        for h, t in data.targets.items()
    }
    estimator = factory().fit(
        data.features, sparse, feature_names=data.feature_names, blocks=data.blocks
    )
    assert np.all(np.isfinite(estimator.predict(data.features[:20])[Horizon.D7].expected_return))
