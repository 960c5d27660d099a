"""Floor-to-float32 thresholds: exact for float32 inputs, LightGBM's own output unchanged."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from quantgate.ml.estimators.lgbm_trees import (
    finalize_booster,
    float32_exact_model_string,
    floor_to_float32,
)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38))
def test_floor_is_the_largest_float32_not_above(value: float) -> None:
    floored = floor_to_float32(value)
    assert floored <= value
    assert float(np.float32(floored)) == floored
    above = np.nextafter(np.float32(floored), np.float32(np.inf), dtype=np.float32)
    assert float(above) > value


def adjacent_float_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    # Values one float32 ulp apart: LightGBM's midpoint thresholds sit exactly
    # between neighbours, where rounding to nearest goes wrong half the time.
    rng = np.random.default_rng(seed)
    one = np.float32(1.0)
    grid = one + np.arange(40, dtype=np.float32) * np.spacing(one)
    features = rng.choice(grid, size=(3_000, 3)).astype(np.float32)
    features[rng.random(features.shape) < 0.05] = np.nan
    target = np.nan_to_num(features[:, 0] - one) / np.spacing(one) + rng.standard_normal(3_000)
    return features, target


def test_rewrite_keeps_predictions_and_model_text_valid() -> None:
    features, target = adjacent_float_data()
    params = {"objective": "regression", "verbosity": -1, "min_data_in_leaf": 20, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(features, target), num_boost_round=10)
    text = booster.model_to_string()
    rewritten = float32_exact_model_string(text)
    assert rewritten != text
    reloaded = lgb.Booster(model_str=rewritten)  # tree_sizes recomputed, or this fails
    np.testing.assert_array_equal(reloaded.predict(features), booster.predict(features))
    for tree in reloaded.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "threshold" in node:
                assert float(np.float32(node["threshold"])) == node["threshold"]
                stack += [node["left_child"], node["right_child"]]


def test_finalize_truncates_to_the_best_iteration() -> None:
    features, target = adjacent_float_data(1)
    params = {"objective": "regression", "verbosity": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(features, target), num_boost_round=12)
    final = finalize_booster(booster, 5)
    assert final.current_iteration() == 5
    np.testing.assert_array_equal(
        final.predict(features), booster.predict(features, num_iteration=5)
    )


def test_single_leaf_trees_pass_through() -> None:
    features = np.zeros((50, 2), dtype=np.float32)
    params = {"objective": "regression", "verbosity": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(features, np.arange(50.0)), num_boost_round=3)
    final = finalize_booster(booster, None)
    np.testing.assert_array_equal(final.predict(features), booster.predict(features))
