"""Gap finding and interval arithmetic on integer microsecond timestamps (fast, exact)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Interval = tuple[int, int]  # [start, end) in microseconds


def expected_end(start: int, bound: int, period: int) -> int:
    """Exclusive end of the grid `start + k*period` whose slots close by `bound`."""
    if bound - start < period:
        return start
    return start + ((bound - start) // period) * period


def missing_runs(
    present: npt.NDArray[np.int64], start: int, end: int, period: int
) -> list[Interval]:
    """Runs of grid slots in [start, end) absent from `present` (sorted, unique, on the grid)."""
    if end <= start:
        return []
    inside = present[(present >= start) & (present < end)]
    previous = np.concatenate(([start - period], inside))
    following = np.concatenate((inside, [end]))
    holes = np.flatnonzero(following - previous > period)
    return [(int(previous[i] + period), int(following[i])) for i in holes]


def subtract(
    interval: Interval, removed: Sequence[Interval]
) -> tuple[list[Interval], list[Interval]]:
    """Split `interval` into (parts covered by `removed`, parts not covered); `removed` sorted."""
    start, end = interval
    covered: list[Interval] = []
    uncovered: list[Interval] = []
    cursor = start
    for r_start, r_end in removed:
        if r_end <= cursor or r_start >= end:
            continue
        if r_start > cursor:
            uncovered.append((cursor, r_start))
        piece = (max(cursor, r_start), min(end, r_end))
        covered.append(piece)
        cursor = piece[1]
        if cursor >= end:
            break
    if cursor < end:
        uncovered.append((cursor, end))
    return covered, uncovered
