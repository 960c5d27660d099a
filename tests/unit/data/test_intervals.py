import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from quantgate.data.intervals import expected_end, missing_runs, subtract

P = 10


@given(st.sets(st.integers(0, 60)), st.integers(0, 20), st.integers(0, 70))
def test_missing_runs_are_exactly_the_absent_slots(
    present_slots: set[int], first: int, count: int
) -> None:
    start, end = first * P, (first + count) * P
    present = np.array(sorted(s * P for s in present_slots), dtype=np.int64)
    runs = missing_runs(present, start, end, P)
    missing = {t for a, b in runs for t in range(a, b, P)}
    expected = {t for t in range(start, end, P)} - set(present.tolist())
    assert missing == expected
    # runs are maximal: never adjacent to each other
    assert all(b < c for (_, b), (c, _) in itertools.pairwise(runs))


def test_expected_end_counts_only_closed_slots() -> None:
    assert expected_end(0, 35, P) == 30
    assert expected_end(0, 9, P) == 0


@given(
    st.tuples(st.integers(0, 50), st.integers(1, 50)),
    st.lists(st.tuples(st.integers(0, 100), st.integers(1, 20)), max_size=5),
)
def test_subtract_partitions_the_interval(
    interval: tuple[int, int], raw: list[tuple[int, int]]
) -> None:
    start, length = interval
    removed = []
    cursor = -1
    for a, length_r in sorted(raw):
        a = max(a, cursor + 1)
        removed.append((a, a + length_r))
        cursor = a + length_r
    covered, uncovered = subtract((start, start + length), removed)
    points = lambda ranges: {t for a, b in ranges for t in range(a, b)}  # noqa: E731
    whole = set(range(start, start + length))
    assert points(covered) | points(uncovered) == whole
    assert not points(covered) & points(uncovered)
    assert points(covered) == whole & points(removed)
