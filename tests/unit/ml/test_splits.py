import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from quantgate.core import ConfigurationError, DataError
from quantgate.ml.splits import (
    CombinatorialPurgedCV,
    Fold,
    PurgedWalkForward,
    assemble_paths,
    label_overlap_count,
    to_micros,
)

HOUR_US = 3_600_000_000
START_US = 1_704_067_205_000_000  # 2024-01-01 00:00:05 UTC


def panel(n_hours: int, n_symbols: int, horizon_hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled rows: every symbol at every hour; all labels `horizon_hours` long."""
    times = np.repeat(START_US + np.arange(n_hours, dtype=np.int64) * HOUR_US, n_symbols)
    return times, times + horizon_hours * HOUR_US


def brute_force_overlaps(
    train: np.ndarray, test: np.ndarray, times: np.ndarray, ends: np.ndarray
) -> int:
    return sum(
        int(times[j] <= ends[i] and times[i] <= ends[j])
        for i in train.tolist()
        for j in test.tolist()
    )


def assert_clean(fold: Fold, times: np.ndarray, ends: np.ndarray, embargo_us: int) -> None:
    assert label_overlap_count(fold.train_idx, fold.test_idx, times, ends) == 0
    assert not np.intersect1d(fold.train_idx, fold.test_idx).size
    train_times = times[fold.train_idx]
    for block in fold.test_blocks:
        inside = (train_times > block.label_end) & (train_times <= block.label_end + embargo_us)
        assert not inside.any(), "a training row sits inside the embargo"


def test_walk_forward_purges_exactly_the_overlapping_tail() -> None:
    times, ends = panel(100, 3, horizon_hours=4)
    folds = PurgedWalkForward(n_folds=4).split(times, ends)
    assert len(folds) == 4
    # 100 distinct hours in 5 groups of 20; fold f tests group f + 1.
    for fold in folds:
        test_hours = np.unique((times[fold.test_idx] - START_US) // HOUR_US)
        first = 20 * (fold.index + 1)
        np.testing.assert_array_equal(test_hours, np.arange(first, first + 20))
        # A training row at hour t overlaps the test block iff t + 4 >= first.
        assert fold.n_purged == 4 * 3
        train_hours = (times[fold.train_idx] - START_US) // HOUR_US
        np.testing.assert_array_equal(np.unique(train_hours), np.arange(0, first - 4))
        assert_clean(fold, times, ends, 0)


def test_rolling_window_trains_on_the_recent_span_only() -> None:
    times, ends = panel(100, 2, horizon_hours=1)
    splitter = PurgedWalkForward(
        n_folds=3, initial_train_groups=1, window="rolling", rolling_span=timedelta(hours=10)
    )
    for fold in splitter.split(times, ends):
        test_start = times[fold.test_idx].min()
        train_times = times[fold.train_idx]
        assert train_times.min() == test_start - 10 * HOUR_US
        assert (
            train_times.max() == test_start - 2 * HOUR_US
        )  # the 1h label at test_start - 1h touches the test block


def test_cpcv_purges_both_sides_and_embargoes_after_each_block() -> None:
    times, ends = panel(120, 2, horizon_hours=3)
    embargo = timedelta(hours=5)
    cv = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, embargo=embargo)
    folds = cv.split(times, ends)
    assert len(folds) == cv.n_splits == 15
    assert cv.n_paths == 5
    embargo_us = 5 * HOUR_US
    for fold, groups in zip(folds, itertools.combinations(range(6), 2), strict=True):
        assert fold.test_groups == groups
        assert_clean(fold, times, ends, embargo_us)
        train_hours = set(((times[fold.train_idx] - START_US) // HOUR_US).tolist())
        for group in groups:
            first, last = 20 * group, 20 * group + 19
            # Before the group: hours whose 3h label reaches it are purged.
            if group > 0 and group - 1 not in groups:
                assert first - 4 in train_hours and first - 3 not in train_hours
            # After the group: purged up to its last label end (last + 3), embargoed 5h more.
            if group < 5 and group + 1 not in groups:
                assert last + 8 not in train_hours and last + 9 in train_hours
        if groups == (0, 1):
            assert len(fold.test_blocks) == 1  # adjacent test groups form one block
            assert fold.n_embargoed == 5 * 2


def test_cpcv_paths_cover_every_group_once_and_use_every_test_group_once() -> None:
    cv = CombinatorialPurgedCV(n_groups=6, n_test_groups=2)
    paths = cv.paths()
    combos = cv.combinations()
    assert paths.shape == (5, 6)
    used = set()
    for path in range(paths.shape[0]):
        for group in range(6):
            split = int(paths[path, group])
            assert group in combos[split]
            used.add((split, group))
    assert used == {(s, g) for s, groups in enumerate(combos) for g in groups}


def test_assemble_paths_gives_each_row_one_prediction_per_path() -> None:
    times, ends = panel(60, 2, horizon_hours=1)
    cv = CombinatorialPurgedCV(n_groups=5, n_test_groups=2)
    folds = cv.split(times, ends)
    # Each split "predicts" row index + 1000 × split so we can see who predicted what.
    predictions = [fold.test_idx + 1000.0 * fold.index for fold in folds]
    assembled = assemble_paths(folds, cv.paths(), predictions, len(times))
    assert assembled.shape == (cv.n_paths, len(times))
    np.testing.assert_array_equal(
        assembled % 1000, np.broadcast_to(np.arange(len(times)), assembled.shape)
    )
    # Different paths use different splits for the same group.
    assert len(np.unique(assembled[:, 0] // 1000)) == cv.n_paths


def test_fold_records_json_windows() -> None:
    times, ends = panel(48, 2, horizon_hours=4)
    fold = PurgedWalkForward(n_folds=2).split(times, ends)[1]
    payload = json.loads(json.dumps(fold.to_dict(include_indices=True)))
    assert payload["test_window"]["start"] == "2024-01-02T08:00:05+00:00"
    assert payload["test_window"]["end"] == "2024-01-02T23:00:05+00:00"
    assert payload["test_window"]["label_end"] == "2024-01-03T03:00:05+00:00"
    assert payload["train_window"]["start"] == "2024-01-01T00:00:05+00:00"
    assert payload["train_window"]["end"] == "2024-01-02T03:00:05+00:00"
    assert payload["n_train"] == len(payload["train_idx"]) == 28 * 2
    assert payload["n_purged"] == 4 * 2


def test_labels_of_different_lengths_are_purged_by_their_own_end() -> None:
    # One row per hour, alternating 1h and 24h labels: only the long ones reach far.
    times = START_US + np.arange(60, dtype=np.int64) * HOUR_US
    ends = times + np.where(np.arange(60) % 2 == 0, 1, 24) * HOUR_US
    fold = PurgedWalkForward(n_folds=1, initial_train_groups=1).split(times, ends)[0]
    train_hours = set(((times[fold.train_idx] - START_US) // HOUR_US).tolist())
    assert 28 in train_hours  # a 1h label ending at 29 < 30
    assert 29 not in train_hours and 7 not in train_hours and 5 in train_hours
    assert label_overlap_count(fold.train_idx, fold.test_idx, times, ends) == 0


def test_a_deliberately_leaky_split_is_counted() -> None:
    times, ends = panel(50, 2, horizon_hours=4)
    test = np.flatnonzero(times >= START_US + 25 * HOUR_US)
    train = np.flatnonzero(times < START_US + 25 * HOUR_US)  # no purging at all
    # Train hours 21..24 overlap test hours 25..(t + 4): hour 21 one test hour, ... hour 24 four.
    expected = (1 + 2 + 3 + 4) * 2 * 2
    assert label_overlap_count(train, test, times, ends) == expected
    assert brute_force_overlaps(train, test, times, ends) == expected


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 50)), min_size=1, max_size=60),
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 50)), min_size=0, max_size=60),
)
def test_overlap_count_matches_brute_force(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    rows = a + b
    times = np.array([r[0] for r in rows], dtype=np.int64)
    ends = times + np.array([r[1] for r in rows], dtype=np.int64)
    train = np.arange(len(a))
    test = np.arange(len(a), len(rows))
    assert label_overlap_count(train, test, times, ends) == brute_force_overlaps(
        train, test, times, ends
    )


@st.composite
def split_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, object, int]:
    n_times = draw(st.integers(12, 80))
    distinct = (
        START_US
        + np.cumsum(draw(st.lists(st.integers(1, 5), min_size=n_times, max_size=n_times))) * HOUR_US
    )
    symbols = draw(st.integers(1, 3))
    times = np.repeat(np.asarray(distinct, dtype=np.int64), symbols)
    keep = np.asarray(draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times))))
    keep[::symbols] = True  # every distinct time keeps at least one row
    times = times[keep]
    horizons = np.asarray(
        draw(st.lists(st.sampled_from([1, 4, 24]), min_size=len(times), max_size=len(times)))
    )
    ends = times + horizons * HOUR_US
    embargo_hours = draw(st.integers(0, 30))
    if draw(st.booleans()):
        n_groups = draw(st.integers(2, 6))
        splitter: object = CombinatorialPurgedCV(
            n_groups=n_groups,
            n_test_groups=draw(st.integers(1, n_groups - 1)),
            embargo=timedelta(hours=embargo_hours),
            min_train_rows=0,
        )
    else:
        rolling = draw(st.booleans())
        splitter = PurgedWalkForward(
            n_folds=draw(st.integers(1, 5)),
            initial_train_groups=draw(st.integers(1, 3)),
            window="rolling" if rolling else "expanding",
            rolling_span=timedelta(hours=draw(st.integers(1, 200))) if rolling else None,
            embargo=timedelta(hours=embargo_hours),
            min_train_rows=0,
        )
    return times, ends, splitter, embargo_hours * HOUR_US


@settings(max_examples=150, deadline=None)
@given(split_case())
def test_no_training_label_window_overlaps_a_test_window(
    case: tuple[np.ndarray, np.ndarray, object, int],
) -> None:
    times, ends, splitter, embargo_us = case
    assert isinstance(splitter, PurgedWalkForward | CombinatorialPurgedCV)
    folds = splitter.split(times, ends)
    tested = np.zeros(len(times), dtype=int)
    for fold in folds:
        assert_clean(fold, times, ends, embargo_us)
        assert brute_force_overlaps(fold.train_idx, fold.test_idx, times, ends) == 0
        tested[fold.test_idx] += 1
        # Test blocks are contiguous in time: no non-test row lies strictly inside a block.
        for block in fold.test_blocks:
            inside = np.flatnonzero((times >= block.start) & (times <= block.end))
            assert np.isin(inside, fold.test_idx).all()
        # Rows sharing a decision time are never split between train and test.
        assert not np.intersect1d(times[fold.train_idx], times[fold.test_idx]).size
    if isinstance(splitter, CombinatorialPurgedCV):
        # Every row is tested in C(N-1, k-1) splits.
        assert (tested == splitter.n_paths).all()
    else:
        assert tested.max() <= 1


def test_configs_validate_and_hash() -> None:
    with pytest.raises(ValidationError):
        PurgedWalkForward(window="rolling")
    with pytest.raises(ValidationError):
        CombinatorialPurgedCV(n_groups=4, n_test_groups=4)
    with pytest.raises(ValidationError):
        PurgedWalkForward(embargo=timedelta(hours=-1))
    a = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, embargo=timedelta(hours=24))
    b = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, embargo=timedelta(hours=25))
    assert a.config_hash != b.config_hash
    assert (
        a.config_hash
        == CombinatorialPurgedCV(n_groups=6, n_test_groups=2, embargo=timedelta(days=1)).config_hash
    )


def test_too_few_times_or_training_rows_is_a_configuration_error() -> None:
    times, ends = panel(5, 1, horizon_hours=1)
    with pytest.raises(ConfigurationError, match="distinct decision times"):
        PurgedWalkForward(n_folds=10).split(times, ends)
    times, ends = panel(20, 1, horizon_hours=100)
    with pytest.raises(ConfigurationError, match="training rows"):
        PurgedWalkForward(n_folds=2).split(times, ends)


def test_time_inputs_of_every_kind_agree() -> None:
    moments = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=k) for k in range(3)]
    expected = np.array([1_704_067_200_000_000 + k * HOUR_US for k in range(3)])
    np.testing.assert_array_equal(to_micros(moments), expected)
    np.testing.assert_array_equal(to_micros(pl.Series(moments)), expected)
    np.testing.assert_array_equal(to_micros(pl.Series(moments).dt.cast_time_unit("ms")), expected)
    np.testing.assert_array_equal(to_micros(np.array(expected, dtype="datetime64[us]")), expected)
    np.testing.assert_array_equal(to_micros(expected), expected)
    with pytest.raises(DataError):
        to_micros(pl.Series([moments[0], None]))
    with pytest.raises(DataError, match="ends before"):
        label_overlap_count([0], [1], expected[:2], expected[:2] - 1)
