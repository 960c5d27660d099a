"""Checking what goes into an estimator, shared by every estimator and the ONNX loader.

Features are float32 because the feature contract stores them so: converting
once at this boundary means the native model and its ONNX export (whose input
is float32) see bit-identical numbers. NaN means "unknown" and is allowed;
±inf is a data error (the feature pipeline never produces it, so it signals a
broken input that must be quarantined, not silently clipped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError

FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]
IndexArray = NDArray[np.int64]

TEXT_BLOCK = "social_text_latent"
# A realised vol of exactly zero (a stale price) has no logarithm; this floor
# keeps it a very small, finite log-vol instead of -inf.
REALISED_VOL_FLOOR = 1e-8


@dataclass(frozen=True, slots=True)
class HorizonTargets:
    """One horizon's training targets, NaN where unknown.

    - forward_return: forward log return over the horizon.
    - log_vol: log of the realised volatility over the horizon.
    - direction: 1.0 when the return is positive, 0.0 otherwise.
    """

    forward_return: FloatArray
    log_vol: FloatArray
    direction: FloatArray

    @classmethod
    def from_realised_vol(
        cls, forward_return: ArrayLike, realised_vol: ArrayLike, direction: ArrayLike
    ) -> HorizonTargets:
        """Targets from the label columns ret_<h>, rv_<h>, dir_<h> (ml.labels)."""
        rv = np.asarray(realised_vol, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            log_vol = np.log(np.maximum(rv, REALISED_VOL_FLOOR))
        log_vol[np.isnan(rv)] = np.nan
        return cls(
            np.asarray(forward_return, dtype=np.float64),
            log_vol,
            np.asarray(direction, dtype=np.float64),
        )


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Validated training inputs: float32 features, float64 targets, partitioned blocks."""

    features: Float32Array
    targets: Mapping[Horizon, HorizonTargets]
    sample_weight: FloatArray | None
    feature_names: tuple[str, ...]
    blocks: Mapping[str, tuple[int, ...]]

    @property
    def n_rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])


def check_features(features: ArrayLike, n_expected: int | None = None) -> Float32Array:
    """`features` as a C-contiguous float32 (rows, columns) array, or a DataError."""
    try:
        # Overflow to inf is reported below as a data error, not as a NumPy warning.
        with np.errstate(over="ignore"):
            array = np.asarray(features, dtype=np.float32, order="C")
    except (TypeError, ValueError) as error:
        raise DataError(f"features are not numeric: {error}", field="X") from None
    if array.ndim != 2:
        raise DataError(
            f"features must be a 2-D (rows, columns) array, got {array.ndim}-D", field="X"
        )
    if n_expected is not None and array.shape[1] != n_expected:
        raise DataError(
            f"got {array.shape[1]} feature columns, expected width {n_expected} "
            "(the model's feature contract)",
            field="X",
            fix=f"pass exactly {n_expected} columns in the contract's order",
        )
    infinite = np.isinf(array)
    if infinite.any():
        rows, cols = np.nonzero(infinite)
        raise DataError(
            f"{rows.size} infinite feature values (first at row {rows[0]}, column {cols[0]}); "
            "float64 values beyond float32 range also become infinite",
            field="X",
        )
    return array


def check_blocks(
    blocks: Mapping[str, Sequence[int]], n_features: int
) -> dict[str, tuple[int, ...]]:
    """Blocks must partition the columns: each column in exactly one block."""
    owner = np.full(n_features, -1, dtype=np.int64)
    checked: dict[str, tuple[int, ...]] = {}
    for position, (name, columns) in enumerate(blocks.items()):
        indices = tuple(int(c) for c in columns)
        if not indices:
            raise DataError(f"block {name!r} has no columns", field="blocks")
        if min(indices) < 0 or max(indices) >= n_features:
            raise DataError(
                f"block {name!r} refers to a column outside 0..{n_features - 1}", field="blocks"
            )
        if np.any(owner[list(indices)] >= 0) or len(set(indices)) != len(indices):
            raise DataError(f"block {name!r} repeats a column already in a block", field="blocks")
        owner[list(indices)] = position
        checked[str(name)] = indices
    missing = np.flatnonzero(owner < 0)
    if missing.size:
        raise DataError(
            f"{missing.size} columns belong to no block (first: {int(missing[0])})",
            field="blocks",
            fix="map every feature column to its contract block",
        )
    return checked


def text_columns(blocks: Mapping[str, Sequence[int]]) -> IndexArray:
    return np.asarray(sorted(blocks.get(TEXT_BLOCK, ())), dtype=np.int64)


def market_side_columns(blocks: Mapping[str, Sequence[int]]) -> IndexArray:
    """Every column outside the social text block (market, cross-asset, calendar, latents...)."""
    columns = [c for name, cols in blocks.items() if name != TEXT_BLOCK for c in cols]
    return np.asarray(sorted(columns), dtype=np.int64)


def _target_array(values: ArrayLike, n_rows: int, *, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_rows,):
        raise DataError(f"{what} has shape {array.shape}, expected ({n_rows},)", field="targets")
    if np.isinf(array).any():
        raise DataError(f"{what} has infinite values; use NaN for unknown", field="targets")
    return array


def check_targets(
    targets: Mapping[Horizon, HorizonTargets] | Mapping[str, HorizonTargets],
    horizons: Sequence[Horizon],
    n_rows: int,
) -> dict[Horizon, HorizonTargets]:
    by_horizon = {Horizon(key): value for key, value in targets.items()}
    checked: dict[Horizon, HorizonTargets] = {}
    for horizon in horizons:
        if horizon not in by_horizon:
            raise DataError(f"no targets for horizon {horizon.value}", field="targets")
        given = by_horizon[horizon]
        ret = _target_array(given.forward_return, n_rows, what=f"{horizon} forward_return")
        log_vol = _target_array(given.log_vol, n_rows, what=f"{horizon} log_vol")
        direction = _target_array(given.direction, n_rows, what=f"{horizon} direction")
        known_direction = direction[~np.isnan(direction)]
        if not np.all((known_direction == 0.0) | (known_direction == 1.0)):
            raise DataError(f"{horizon} direction must be 0, 1 or NaN", field="targets")
        for what, values in (("forward_return", ret), ("log_vol", log_vol)):
            if np.count_nonzero(~np.isnan(values)) < 2:
                raise DataError(f"{horizon} {what} has fewer than 2 known rows", field="targets")
        if np.unique(known_direction).size < 2:
            raise DataError(
                f"{horizon} direction needs both up and down rows to fit a classifier",
                field="targets",
            )
        checked[horizon] = HorizonTargets(ret, log_vol, direction)
    return checked


def check_sample_weight(sample_weight: ArrayLike | None, n_rows: int) -> FloatArray | None:
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n_rows,):
        raise DataError(
            f"sample_weight has shape {weight.shape}, expected ({n_rows},)", field="sample_weight"
        )
    if not np.all(np.isfinite(weight)) or np.any(weight < 0) or weight.sum() <= 0:
        raise DataError(
            "sample_weight must be finite, non-negative and not all zero", field="sample_weight"
        )
    return weight


def prepare_training_data(
    features: ArrayLike,
    targets: Mapping[Horizon, HorizonTargets] | Mapping[str, HorizonTargets],
    *,
    feature_names: Sequence[str],
    blocks: Mapping[str, Sequence[int]],
    sample_weight: ArrayLike | None,
    horizons: Sequence[Horizon],
) -> TrainingData:
    array = check_features(features)
    n_rows, n_features = array.shape
    names = tuple(str(n) for n in feature_names)
    if len(names) != n_features:
        raise DataError(
            f"{len(names)} feature names for {n_features} columns", field="feature_names"
        )
    if len(set(names)) != len(names):
        raise DataError("feature names repeat", field="feature_names")
    checked_blocks = check_blocks(blocks, n_features)
    if market_side_columns(checked_blocks).size == 0:
        raise DataError("no market-side block: every model needs market features", field="blocks")
    return TrainingData(
        features=array,
        targets=check_targets(targets, horizons, n_rows),
        sample_weight=check_sample_weight(sample_weight, n_rows),
        feature_names=names,
        blocks=checked_blocks,
    )


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """Row ranges of a time-ordered fit / validation split; `valid` is None when unused."""

    fit: slice
    valid: slice | None


def time_ordered_split(n_rows: int, valid_fraction: float, gap_rows: int) -> TimeSplit:
    """Hold out the last `valid_fraction` of rows, dropping `gap_rows` before them.

    Rows are in time order, so the tail is the most recent data; the gap keeps
    training label windows from overlapping the validation ones (the pipeline
    sets it to the longest horizon in rows).
    """
    if valid_fraction <= 0.0:
        return TimeSplit(slice(0, n_rows), None)
    n_valid = max(1, round(n_rows * valid_fraction))
    fit_end = n_rows - n_valid - gap_rows
    if fit_end < 2:
        raise DataError(
            f"{n_rows} rows leave nothing to fit after a {n_valid}-row validation tail "
            f"and a {gap_rows}-row gap",
            fix="lower validation_fraction / validation_gap_rows or pass more rows",
        )
    return TimeSplit(slice(0, fit_end), slice(n_rows - n_valid, n_rows))
