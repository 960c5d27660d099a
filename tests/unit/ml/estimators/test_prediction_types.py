"""Raw heads → MultiHorizonPrediction, calibration tables, and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.ml.estimators.inputs import (
    HorizonTargets,
    check_blocks,
    check_features,
    market_side_columns,
    text_columns,
    time_ordered_split,
)
from quantgate.ml.estimators.prediction import (
    ConfidenceCalibration,
    RawHeads,
    assemble_prediction,
)


def heads(p: list[float], log_vol: list[float] | None = None) -> RawHeads:
    n = len(p)
    return RawHeads(
        expected_return=np.linspace(-0.01, 0.01, n),
        log_vol=np.array(log_vol if log_vol is not None else [-4.0] * n),
        direction_prob=np.array(p),
    )


def test_assemble_derives_vol_and_confidence() -> None:
    prediction = assemble_prediction({Horizon.H1: heads([0.2, 0.5, 0.9, 1.0000001])}, {})
    p = prediction[Horizon.H1]
    np.testing.assert_allclose(p.vol_forecast, np.exp(-4.0))
    np.testing.assert_allclose(p.signal_confidence, [0.8, 0.5, 0.9, 1.0])
    assert p.direction.tolist() == [-1, 1, 1, 1]
    assert p.direction_score.max() <= 1.0


def test_extreme_log_vol_stays_positive_and_finite() -> None:
    p = assemble_prediction({Horizon.D7: heads([0.5, 0.5], [-1e4, 1e4])}, {})[Horizon.D7]
    assert np.all(p.vol_forecast > 0) and np.all(np.isfinite(p.vol_forecast))


def test_calibration_is_interpolated_on_the_called_direction() -> None:
    table = ConfidenceCalibration.from_knots([0.5, 0.6, 1.0], [0.5, 0.55, 0.75])
    p = assemble_prediction({Horizon.H4: heads([0.4, 0.6, 0.8])}, {Horizon.H4: table})
    np.testing.assert_allclose(p[Horizon.H4].signal_confidence, [0.55, 0.55, 0.65])


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([], [], "non-empty"),
        ([0.5, 0.6], [0.5], "equally long"),
        ([0.6, 0.5], [0.5, 0.6], "ascending"),
        ([0.5, 0.6, 0.7], [0.6, 0.5, 0.7], "monotone"),
        ([0.5, 1.2], [0.5, 0.6], r"\[0, 1\]"),
        ([0.5, float("nan")], [0.5, 0.6], "finite"),
    ],
)
def test_calibration_rejects_bad_tables(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(ProgrammerError, match=message):
        ConfidenceCalibration.from_knots(x, y)


def test_calibration_accepts_tables_of_ml_calibration() -> None:
    # A single knot is a constant; a repeated x is a step (isotonic output).
    constant = ConfidenceCalibration.from_knots([0.7], [0.55])
    np.testing.assert_allclose(constant.apply(np.array([0.5, 0.9])), [0.55, 0.55])
    step = ConfidenceCalibration.from_knots([0.5, 0.6, 0.6, 1.0], [0.5, 0.5, 0.6, 0.6])
    assert step.apply(np.array([0.55, 0.8])).tolist() == [0.5, 0.6]


def test_prediction_is_a_read_only_mapping_of_equal_lengths() -> None:
    prediction = assemble_prediction(
        {Horizon.H1: heads([0.5, 0.6]), Horizon.D1: heads([0.5, 0.6])}, {}
    )
    assert prediction.horizons == (Horizon.H1, Horizon.D1)
    assert prediction.n_rows == 2 and len(prediction) == 2
    with pytest.raises(ProgrammerError, match="disagree"):
        assemble_prediction({Horizon.H1: heads([0.5]), Horizon.D1: heads([0.5, 0.6])}, {})


def test_check_features_converts_once_to_float32() -> None:
    array = np.ones((3, 2), dtype=np.float32)
    assert check_features(array) is array  # no copy for the contract dtype
    converted = check_features(np.ones((3, 2)))
    assert converted.dtype == np.float32 and converted.flags.c_contiguous
    with pytest.raises(DataError, match="infinite"):
        check_features(np.array([[1e39, 0.0]]))  # overflows float32


def test_blocks_must_partition_the_columns() -> None:
    blocks = check_blocks({"market": [0, 1], "social_text_latent": [2, 3]}, 4)
    assert market_side_columns(blocks).tolist() == [0, 1]
    assert text_columns(blocks).tolist() == [2, 3]
    with pytest.raises(DataError, match="repeats"):
        check_blocks({"market": [0, 1], "calendar": [1, 2, 3]}, 4)
    with pytest.raises(DataError, match="outside"):
        check_blocks({"market": [0, 1, 2, 3, 4]}, 4)


def test_time_ordered_split_holds_out_the_tail_after_a_gap() -> None:
    split = time_ordered_split(100, 0.2, 5)
    assert split.fit == slice(0, 75) and split.valid == slice(80, 100)
    assert time_ordered_split(100, 0.0, 5).valid is None
    with pytest.raises(DataError, match="nothing to fit"):
        time_ordered_split(10, 0.5, 9)


def test_targets_from_realised_vol_take_logs_with_a_floor() -> None:
    targets = HorizonTargets.from_realised_vol(
        [0.1, 0.2, np.nan], [0.02, 0.0, np.nan], [1, 1, np.nan]
    )
    assert targets.log_vol[0] == pytest.approx(np.log(0.02))
    assert np.isfinite(targets.log_vol[1])
    assert np.isnan(targets.log_vol[2])
