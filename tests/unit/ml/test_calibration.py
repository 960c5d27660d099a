import json
import math

import numpy as np
import pytest
from scipy.optimize import isotonic_regression, minimize

from quantgate.core import DataError, ProgrammerError
from quantgate.ml.calibration import (
    CalibrationTable,
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_dict,
    calibrator_from_json,
    direction_outcomes,
    expected_calibration_error,
    pool_adjacent_violators,
    reliability_bins,
)


def test_pav_on_a_textbook_sequence() -> None:
    np.testing.assert_allclose(pool_adjacent_violators([1.0, 3.0, 2.0, 4.0]), [1.0, 2.5, 2.5, 4.0])
    np.testing.assert_allclose(pool_adjacent_violators([3.0, 2.0, 1.0]), [2.0, 2.0, 2.0])
    # Weight 3 on the first point pulls the pooled mean towards it.
    np.testing.assert_allclose(pool_adjacent_violators([3.0, 1.0], [3.0, 1.0]), [2.5, 2.5])
    np.testing.assert_allclose(
        pool_adjacent_violators([1.0, 3.0, 2.0], increasing=False), [2.0, 2.0, 2.0]
    )


@pytest.mark.parametrize("increasing", [True, False])
def test_pav_agrees_with_scipy(increasing: bool) -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=500).cumsum() * (1 if increasing else -1) + rng.normal(size=500) * 3
    weights = rng.uniform(0.1, 2.0, size=500)
    ours = pool_adjacent_violators(values, weights, increasing=increasing)
    theirs = isotonic_regression(values, weights=weights, increasing=increasing).x
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def noisy_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [0, 1] that are over-confident: P(right) = 0.5 + 0.5 (s - 0.5)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.0, 1.0, size=n)
    truth = 0.5 + 0.5 * (scores - 0.5)
    return scores, (rng.uniform(size=n) < truth).astype(float)


def test_isotonic_fit_is_monotone_and_the_table_is_the_model() -> None:
    scores, outcomes = noisy_scores(5000, 0)
    calibrator = IsotonicCalibrator().fit(scores, outcomes)
    assert calibrator.fit(scores, outcomes) is calibrator
    assert calibrator.n_samples_ == 5000
    grid = np.linspace(-0.5, 1.5, 4001)
    predicted = calibrator.predict(grid)
    assert np.all(np.diff(predicted) >= 0)
    assert predicted.min() >= 0.0 and predicted.max() <= 1.0
    table = calibrator.to_table()
    np.testing.assert_array_equal(
        table.evaluate(grid), np.interp(grid, calibrator.x_knots_, calibrator.y_knots_)
    )
    assert table.max_error == 0.0
    # At the training points the fit equals the PAV solution on the sorted outcomes.
    order = np.argsort(scores)
    np.testing.assert_allclose(
        calibrator.predict(scores[order]), isotonic_regression(outcomes[order]).x, atol=1e-12
    )
    # Constant beyond the training range.
    assert calibrator.predict([-10.0])[0] == calibrator.y_knots_[0]
    assert calibrator.predict([10.0])[0] == calibrator.y_knots_[-1]
    assert len(calibrator.x_knots_) < 5000  # interior points of flat blocks are dropped


def test_isotonic_interpolates_linearly_between_blocks() -> None:
    calibrator = IsotonicCalibrator().fit([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(calibrator.predict([0.5, 1.5, 1.75, 2.5]), [0.0, 0.5, 0.75, 1.0])


def test_calibration_lowers_held_out_ece() -> None:
    scores, outcomes = noisy_scores(20_000, 1)
    held_scores, held_outcomes = noisy_scores(20_000, 2)
    before = expected_calibration_error(held_scores, held_outcomes)
    assert before == pytest.approx(0.125, abs=0.01)  # |s - (0.25 + s/2)| averaged over U(0, 1)
    for calibrator in (IsotonicCalibrator(), PlattCalibrator()):
        calibrator.fit(scores, outcomes)
        after = expected_calibration_error(calibrator.predict(held_scores), held_outcomes)
        assert after < 0.02


def test_platt_recovers_a_known_sigmoid_and_matches_a_generic_optimiser() -> None:
    rng = np.random.default_rng(4)
    scores = rng.normal(0.0, 2.0, size=20_000)
    a_true, b_true = -1.5, 0.3
    outcomes = (
        rng.uniform(size=scores.size) < 1.0 / (1.0 + np.exp(a_true * scores + b_true))
    ).astype(float)
    calibrator = PlattCalibrator().fit(scores, outcomes)
    assert calibrator.a_ == pytest.approx(a_true, abs=0.06)
    assert calibrator.b_ == pytest.approx(b_true, abs=0.06)

    positives = outcomes.sum()
    negatives = outcomes.size - positives
    target = np.where(outcomes == 1.0, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(params: np.ndarray) -> float:
        z = params[0] * scores + params[1]
        return float(np.sum(target * np.logaddexp(0, z) + (1 - target) * np.logaddexp(0, -z)))

    reference = minimize(
        loss,
        x0=[0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000},
    )
    np.testing.assert_allclose([calibrator.a_, calibrator.b_], reference.x, atol=1e-5)


def test_platt_is_finite_on_separable_data() -> None:
    calibrator = PlattCalibrator().fit([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 1.0, 1.0])
    assert math.isfinite(calibrator.a_) and calibrator.a_ < 0
    p = calibrator.predict([0.0, 3.0])
    # Platt's smoothed targets cap the fit at (N+ + 1)/(N+ + 2) = 3/4 and 1/4.
    assert 0.2 < p[0] < 0.3 and 0.7 < p[1] < 0.8


def test_platt_table_stays_within_its_error_bound() -> None:
    scores, outcomes = noisy_scores(5000, 3)
    calibrator = PlattCalibrator().fit(scores * 8 - 4, outcomes)
    table = calibrator.to_table()
    grid = np.linspace(-200.0, 200.0, 200_001)
    error = np.abs(table.evaluate(grid) - calibrator.predict(grid)).max()
    assert error <= table.max_error
    assert table.max_error < 2e-5  # 1025 knots
    flat = PlattCalibrator().fit([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0])
    assert flat.a_ == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "calibrator", [IsotonicCalibrator(increasing=False), PlattCalibrator(max_iter=50)]
)
def test_json_round_trip_is_exact(calibrator: IsotonicCalibrator | PlattCalibrator) -> None:
    scores, outcomes = noisy_scores(3000, 5)
    calibrator.fit(1.0 - scores, outcomes)
    text = calibrator.to_json()
    restored = calibrator_from_json(text)
    assert type(restored) is type(calibrator)
    grid = np.linspace(-1.0, 2.0, 1001)
    np.testing.assert_array_equal(restored.predict(grid), calibrator.predict(grid))
    assert restored.to_json() == text
    assert type(calibrator).from_json(text).to_dict() == calibrator.to_dict()
    table = CalibrationTable.from_dict(json.loads(json.dumps(calibrator.to_table().to_dict())))
    np.testing.assert_array_equal(table.evaluate(grid), calibrator.to_table().evaluate(grid))


def test_serialisation_errors_and_unfitted_use() -> None:
    unfitted = IsotonicCalibrator()
    assert calibrator_from_dict(unfitted.to_dict()).to_dict() == unfitted.to_dict()
    with pytest.raises(ProgrammerError, match="not fitted"):
        unfitted.predict([0.5])
    with pytest.raises(DataError):
        calibrator_from_dict({"kind": "histogram"})
    with pytest.raises(DataError):
        PlattCalibrator.from_dict(IsotonicCalibrator().to_dict())
    with pytest.raises(DataError):
        IsotonicCalibrator().fit([0.1, 0.2], [0.0, 2.0])


def test_ece_by_hand() -> None:
    probs = [0.1, 0.1, 0.9, 0.9]
    outcomes = [0.0, 1.0, 1.0, 1.0]
    # Bin 1: mean p 0.1, frequency 0.5; bin 9: mean p 0.9, frequency 1.0.
    assert expected_calibration_error(probs, outcomes) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert expected_calibration_error(
        probs, outcomes, n_bins=2, strategy="quantile"
    ) == pytest.approx(0.25)
    assert expected_calibration_error(probs, outcomes, n_bins=1) == pytest.approx(abs(0.5 - 0.75))
    bins = reliability_bins([1.0, 0.0, 0.55, np.nan], [1.0, 0.0, 1.0, 1.0], n_bins=10)
    np.testing.assert_array_equal(bins.count, [1, 1, 1])  # 1.0 lands in the last bin, NaN dropped
    assert bins.to_dict()["ece"] == pytest.approx(0.45 / 3)


def test_equal_mass_bins_have_equal_counts() -> None:
    rng = np.random.default_rng(9)
    p = rng.beta(2, 5, size=1003)
    bins = reliability_bins(
        p, (rng.uniform(size=1003) < p).astype(float), n_bins=10, strategy="quantile"
    )
    assert set(bins.count.tolist()) <= {100, 101}
    assert np.all(np.diff(bins.mean_probability) > 0)


def test_direction_outcomes() -> None:
    confidence, outcome = direction_outcomes(
        [0.8, 0.3, 0.6, np.nan], [1.0, 1.0, 0.0, 1.0], threshold=0.5
    )
    np.testing.assert_allclose(confidence[:3], [0.3, 0.2, 0.1])
    np.testing.assert_array_equal(outcome, [1.0, 0.0, 0.0, np.nan])
    _, outcome = direction_outcomes([0.01, -0.02], [0.0, 0.0])
    np.testing.assert_array_equal(outcome, [0.0, 1.0])
