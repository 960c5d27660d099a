"""Purged walk-forward and combinatorial purged cross-validation (DESIGN §3.2).

Every row is a (symbol, decision time) sample with a label window
``[t, label_end]``. Rows of many symbols share decision times, so the timeline is
cut on *distinct decision times*: all rows of one time always land in the same
group, and every group is a contiguous stretch of time.

Two rules keep test information out of training:

- **Purging.** A training row is dropped when its label window overlaps the
  label window of any test row (closed intervals: touching counts). Each row is
  judged with its own label end, so pooled horizons are handled exactly.
- **Embargo.** A test block (a maximal run of adjacent test groups) spans from
  its first decision time to its last label end. Training rows whose decision
  time falls in ``(block label end, block label end + embargo]`` are dropped
  too: their features look back into the test labels' period.

In walk-forward training always precedes the test block, so the embargo never
bites there; it is accepted for symmetry and so one config shape covers both.

Times are handled as int64 microseconds since the epoch (UTC). Inputs may be
Polars Datetime Series, NumPy ``datetime64`` arrays, int64 microsecond arrays or
sequences of timezone-aware datetimes.

`label_overlap_count` counts overlapping (train, test) pairs in
O((n + m) log m); ``ml validate-leakage`` uses it on recorded runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pydantic import Field, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.core.clock import ensure_utc
from quantgate.core.errors import ConfigurationError, DataError, ProgrammerError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
TimeLike = pl.Series | NDArray[Any] | Sequence[datetime]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(values: TimeLike, *, name: str = "times") -> IntArray:
    """Times as int64 microseconds since the epoch; refuses missing values."""
    if isinstance(values, pl.Series):
        if not isinstance(values.dtype, pl.Datetime):
            if values.dtype.is_integer():
                if values.null_count():
                    raise DataError(f"{values.null_count()} null times", field=name)
                return values.to_numpy().astype(np.int64)
            raise ProgrammerError(f"{name}: expected a Datetime series, got {values.dtype}")
        if values.null_count():
            raise DataError(f"{values.null_count()} null times", field=name)
        return values.dt.epoch("us").to_numpy().astype(np.int64)
    if isinstance(values, np.ndarray):
        if np.issubdtype(values.dtype, np.datetime64):
            if np.isnat(values).any():
                raise DataError("NaT in times", field=name)
            return values.astype("datetime64[us]").astype(np.int64)
        if np.issubdtype(values.dtype, np.integer):
            return values.astype(np.int64)
        raise ProgrammerError(f"{name}: expected datetime64 or int64 µs, got {values.dtype}")
    return np.fromiter(
        ((ensure_utc(v, name=name) - _EPOCH) // _MICROSECOND for v in values),
        dtype=np.int64,
    )


def micros_to_iso(value: int) -> str:
    return (_EPOCH + timedelta(microseconds=int(value))).isoformat()


def _as_index(values: NDArray[Any] | Sequence[int], name: str) -> IntArray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ProgrammerError(f"{name} must be 1-D")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ProgrammerError(f"{name} must hold integer row indices, got {array.dtype}")
    return array.astype(np.int64)


def _check_windows(times: IntArray, label_ends: IntArray) -> None:
    if times.shape != label_ends.shape or times.ndim != 1:
        raise ProgrammerError(
            "times and label_ends must be 1-D of equal length "
            f"({times.shape} vs {label_ends.shape})"
        )
    bad = np.flatnonzero(label_ends < times)
    if len(bad):
        raise DataError(
            f"{len(bad)} rows whose label ends before their decision time",
            row=int(bad[0]),
            field="label_end",
        )


# --- overlap arithmetic --------------------------------------------------------


def overlap_counts(
    starts: IntArray, ends: IntArray, other_starts: IntArray, other_ends: IntArray
) -> IntArray:
    """For each window [starts[i], ends[i]], how many other windows it overlaps.

    Closed intervals overlap when ``s_j <= e_i`` and ``e_j >= s_i``. Because every
    window has ``s_j <= e_j``, the windows with ``e_j < s_i`` are a subset of those
    with ``s_j <= e_i``, so the count is a difference of two sorted searches.
    """
    if not len(other_starts):
        return np.zeros(len(starts), dtype=np.int64)
    began = np.searchsorted(np.sort(other_starts), ends, side="right")
    finished = np.searchsorted(np.sort(other_ends), starts, side="left")
    return (began - finished).astype(np.int64)


def label_overlap_count(
    train_idx: NDArray[Any] | Sequence[int],
    test_idx: NDArray[Any] | Sequence[int],
    times: TimeLike,
    label_ends: TimeLike,
) -> int:
    """The number of (train row, test row) pairs whose label windows overlap.

    Zero for a correctly purged split. A row present in both sets overlaps
    itself and is counted.
    """
    start = to_micros(times, name="times")
    end = to_micros(label_ends, name="label_ends")
    _check_windows(start, end)
    train = _as_index(train_idx, "train_idx")
    test = _as_index(test_idx, "test_idx")
    counts = overlap_counts(start[train], end[train], start[test], end[test])
    return int(counts.sum())


def _overlaps_any(
    starts: IntArray, ends: IntArray, other_starts: IntArray, other_ends: IntArray
) -> BoolArray:
    return overlap_counts(starts, ends, other_starts, other_ends) > 0


# --- folds ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A span of decision times and the last label end of the rows in it (µs)."""

    start: int
    end: int
    label_end: int

    def to_dict(self) -> dict[str, str]:
        return {
            "start": micros_to_iso(self.start),
            "end": micros_to_iso(self.end),
            "label_end": micros_to_iso(self.label_end),
        }


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split. Indices refer to rows of the arrays given to `split`.

    ``test_row_groups`` is aligned with ``test_idx`` and names each test row's
    group (CPCV paths need it). ``n_purged`` counts candidate training rows
    dropped for label overlap; ``n_embargoed`` those dropped only by the embargo.
    """

    index: int
    train_idx: IntArray
    test_idx: IntArray
    test_groups: tuple[int, ...]
    test_row_groups: IntArray
    train_window: TimeWindow | None
    test_blocks: tuple[TimeWindow, ...]
    n_purged: int
    n_embargoed: int

    @property
    def test_window(self) -> TimeWindow:
        return TimeWindow(
            start=min(b.start for b in self.test_blocks),
            end=max(b.end for b in self.test_blocks),
            label_end=max(b.label_end for b in self.test_blocks),
        )

    def to_dict(self, *, include_indices: bool = False) -> dict[str, Any]:
        """Plain JSON types: the windows a training run records."""
        payload: dict[str, Any] = {
            "index": self.index,
            "test_groups": list(self.test_groups),
            "train_window": None if self.train_window is None else self.train_window.to_dict(),
            "test_window": self.test_window.to_dict(),
            "test_blocks": [b.to_dict() for b in self.test_blocks],
            "n_train": len(self.train_idx),
            "n_test": len(self.test_idx),
            "n_purged": self.n_purged,
            "n_embargoed": self.n_embargoed,
        }
        if include_indices:
            payload["train_idx"] = self.train_idx.tolist()
            payload["test_idx"] = self.test_idx.tolist()
        return payload


@dataclass(frozen=True, eq=False)
class _Timeline:
    times: IntArray
    label_ends: IntArray
    row_group: IntArray
    group_start: IntArray  # first distinct decision time of each group


def _timeline(times: TimeLike, label_ends: TimeLike, n_groups: int) -> _Timeline:
    start = to_micros(times, name="times")
    end = to_micros(label_ends, name="label_ends")
    _check_windows(start, end)
    distinct = np.unique(start)
    if len(distinct) < n_groups:
        raise ConfigurationError(
            f"{len(distinct)} distinct decision times cannot form {n_groups} groups",
            fix="use fewer folds/groups or more data",
        )
    # Equal numbers of distinct times per group (not rows): rows of one time
    # must never straddle two groups.
    bounds = np.array([len(chunk) for chunk in np.array_split(distinct, n_groups)])
    first = np.concatenate(([0], np.cumsum(bounds)[:-1]))
    group_of_distinct = np.repeat(np.arange(n_groups, dtype=np.int64), bounds)
    row_group = group_of_distinct[np.searchsorted(distinct, start)]
    return _Timeline(start, end, row_group, distinct[first])


def _build_fold(
    index: int,
    line: _Timeline,
    test_groups: tuple[int, ...],
    candidate: BoolArray,
    embargo_us: int,
    min_train_rows: int,
) -> Fold:
    is_test = np.isin(line.row_group, np.asarray(test_groups, dtype=np.int64))
    test_idx = np.flatnonzero(is_test).astype(np.int64)
    candidate = candidate & ~is_test
    cand_idx = np.flatnonzero(candidate)

    purged = _overlaps_any(
        line.times[cand_idx],
        line.label_ends[cand_idx],
        line.times[test_idx],
        line.label_ends[test_idx],
    )
    blocks = _test_blocks(line, test_groups, is_test)
    embargoed = np.zeros(len(cand_idx), dtype=bool)
    if embargo_us > 0:
        cand_times = line.times[cand_idx]
        for block in blocks:
            embargoed |= (cand_times > block.label_end) & (
                cand_times <= block.label_end + embargo_us
            )
    keep = ~(purged | embargoed)
    train_idx = cand_idx[keep].astype(np.int64)
    if len(train_idx) < min_train_rows:
        raise ConfigurationError(
            f"fold {index} keeps {len(train_idx)} training rows after purging and embargo "
            f"(minimum {min_train_rows})",
            fix="use fewer folds, a shorter embargo or more history",
        )
    train_window = None
    if len(train_idx):
        train_times = line.times[train_idx]
        train_window = TimeWindow(
            int(train_times.min()),
            int(train_times.max()),
            int(line.label_ends[train_idx].max()),
        )
    return Fold(
        index=index,
        train_idx=train_idx,
        test_idx=test_idx,
        test_groups=test_groups,
        test_row_groups=line.row_group[test_idx],
        train_window=train_window,
        test_blocks=blocks,
        n_purged=int(purged.sum()),
        n_embargoed=int((embargoed & ~purged).sum()),
    )


def _test_blocks(
    line: _Timeline, test_groups: tuple[int, ...], is_test: BoolArray
) -> tuple[TimeWindow, ...]:
    # Adjacent test groups form one block: there is no training data between
    # them for an embargo to protect.
    runs: list[list[int]] = []
    for group in sorted(test_groups):
        if runs and runs[-1][-1] == group - 1:
            runs[-1].append(group)
        else:
            runs.append([group])
    blocks = []
    for run in runs:
        rows = is_test & (line.row_group >= run[0]) & (line.row_group <= run[-1])
        times = line.times[rows]
        blocks.append(
            TimeWindow(int(times.min()), int(times.max()), int(line.label_ends[rows].max()))
        )
    return tuple(blocks)


def _micros(delta: timedelta) -> int:
    return delta // _MICROSECOND


# --- splitters ------------------------------------------------------------------


class PurgedWalkForward(ComponentConfig):
    """Walk-forward folds with purging (and an embargo, inert here; see module doc).

    The distinct decision times are cut into ``initial_train_groups + n_folds``
    contiguous groups of equal size. Fold ``f`` tests group
    ``initial_train_groups + f`` and trains on earlier rows: all of them
    (``expanding``) or those with a decision time within ``rolling_span`` before
    the test block's first decision time (``rolling``); then purges.
    """

    n_folds: int = Field(5, ge=1)
    initial_train_groups: int = Field(1, ge=1)
    window: Literal["expanding", "rolling"] = "expanding"
    rolling_span: timedelta | None = None
    embargo: timedelta = timedelta(0)
    min_train_rows: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PurgedWalkForward:
        if self.window == "rolling" and (
            self.rolling_span is None or self.rolling_span <= timedelta(0)
        ):
            raise ValueError("a rolling window needs a positive rolling_span")
        if self.window == "expanding" and self.rolling_span is not None:
            raise ValueError("rolling_span applies only to window='rolling'")
        if self.embargo < timedelta(0):
            raise ValueError("embargo must not be negative")
        return self

    @property
    def n_groups(self) -> int:
        return self.initial_train_groups + self.n_folds

    def split(self, times: TimeLike, label_ends: TimeLike) -> list[Fold]:
        line = _timeline(times, label_ends, self.n_groups)
        folds = []
        for fold in range(self.n_folds):
            group = self.initial_train_groups + fold
            candidate = line.row_group < group
            if self.window == "rolling":
                assert self.rolling_span is not None
                since = line.group_start[group] - _micros(self.rolling_span)
                candidate &= line.times >= since
            folds.append(
                _build_fold(
                    fold,
                    line,
                    (group,),
                    candidate,
                    _micros(self.embargo),
                    self.min_train_rows,
                )
            )
        return folds


class CombinatorialPurgedCV(ComponentConfig):
    """Combinatorial purged cross-validation (López de Prado, AFML ch. 12).

    The distinct decision times are cut into ``n_groups`` contiguous groups;
    every choice of ``n_test_groups`` of them is one split (``C(N, k)`` splits,
    in `itertools.combinations` order). Training is every other row, purged and
    embargoed around each test block. The splits' test predictions recombine
    into ``C(N-1, k-1)`` full backtest paths (`paths`, `assemble_paths`).
    """

    n_groups: int = Field(6, ge=2)
    n_test_groups: int = Field(2, ge=1)
    embargo: timedelta = timedelta(0)
    min_train_rows: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _check(self) -> CombinatorialPurgedCV:
        if self.n_test_groups >= self.n_groups:
            raise ValueError("n_test_groups must be smaller than n_groups")
        if self.embargo < timedelta(0):
            raise ValueError("embargo must not be negative")
        return self

    @property
    def n_splits(self) -> int:
        return math.comb(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        return math.comb(self.n_groups - 1, self.n_test_groups - 1)

    def combinations(self) -> list[tuple[int, ...]]:
        return list(itertools.combinations(range(self.n_groups), self.n_test_groups))

    def split(self, times: TimeLike, label_ends: TimeLike) -> list[Fold]:
        line = _timeline(times, label_ends, self.n_groups)
        everything = np.ones(len(line.times), dtype=bool)
        embargo_us = _micros(self.embargo)
        return [
            _build_fold(index, line, groups, everything, embargo_us, self.min_train_rows)
            for index, groups in enumerate(self.combinations())
        ]

    def paths(self) -> IntArray:
        """``paths[p, g]``: the split whose test predictions path ``p`` uses for group ``g``.

        Group ``g`` is tested in ``C(N-1, k-1)`` splits; path ``p`` takes the
        ``p``-th of them in split order, so every path covers every group once
        and every (split, test group) pair feeds exactly one path.
        """
        table = np.empty((self.n_paths, self.n_groups), dtype=np.int64)
        seen = np.zeros(self.n_groups, dtype=np.int64)
        for split, groups in enumerate(self.combinations()):
            for group in groups:
                table[seen[group], group] = split
                seen[group] += 1
        return table


def assemble_paths(
    folds: Sequence[Fold],
    paths: IntArray,
    predictions: Sequence[NDArray[Any]],
    n_rows: int,
) -> FloatArray:
    """Out-of-sample predictions per backtest path, shape ``(n_paths, n_rows)``.

    ``predictions[s]`` is aligned with ``folds[s].test_idx``. Every row belongs
    to exactly one group, so each path predicts every row exactly once.
    """
    if len(predictions) != len(folds):
        raise ProgrammerError(f"{len(predictions)} prediction arrays for {len(folds)} folds")
    result = np.full((paths.shape[0], n_rows), np.nan)
    for path in range(paths.shape[0]):
        for group in range(paths.shape[1]):
            split = int(paths[path, group])
            fold = folds[split]
            values = np.asarray(predictions[split], dtype=np.float64)
            if values.shape != fold.test_idx.shape:
                raise ProgrammerError(
                    f"fold {fold.index}: {values.shape} predictions for {fold.test_idx.shape} rows"
                )
            chosen = fold.test_row_groups == group
            result[path, fold.test_idx[chosen]] = values[chosen]
    return result
