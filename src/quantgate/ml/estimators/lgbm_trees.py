"""Make a LightGBM booster's splits exact in float32, so its ONNX export agrees with it.

LightGBM stores split thresholds as doubles (typically midpoints between two
float32 feature values) and compares `x <= t` in double precision. ONNX tree
ensembles hold thresholds as float32, and the converter rounds each one to the
*nearest* float32, which can land on the upper neighbour: a feature value equal
to that neighbour then goes left in ONNX and right in LightGBM (we measured
~1.0 absolute disagreement on such data).

For a float32 input `x`, `x <= t` is exactly `x <= floor32(t)`, where floor32 is
the largest float32 not above `t`. Rewriting every numerical threshold that way
leaves LightGBM's own predictions on float32 inputs bit-for-bit unchanged (the
estimators only ever feed float32) and makes the float32 copy exact.
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np

_TREE_START = re.compile(r"^Tree=\d+\n", re.MULTILINE)
_TREE_SIZES = re.compile(r"^tree_sizes=.*$", re.MULTILINE)
_CATEGORICAL_MASK = 1  # bit 0 of a LightGBM decision_type


def floor_to_float32(value: float) -> float:
    single = np.float32(value)
    if float(single) > value:
        single = np.nextafter(single, np.float32(-np.inf), dtype=np.float32)
    return float(single)


def _rewrite_tree(block: str) -> str:
    lines = block.split("\n")
    where = {line.split("=", 1)[0]: i for i, line in enumerate(lines) if "=" in line}
    if "threshold" not in where:
        return block
    thresholds = lines[where["threshold"]].split("=", 1)[1].split()
    decisions = lines[where["decision_type"]].split("=", 1)[1].split()
    if not thresholds:  # a single-leaf tree has no splits
        return block
    rewritten = [
        repr(floor_to_float32(float(threshold)))
        if int(decision) & _CATEGORICAL_MASK == 0
        else threshold  # categorical: an index into the category bitsets, not a value
        for threshold, decision in zip(thresholds, decisions, strict=True)
    ]
    lines[where["threshold"]] = "threshold=" + " ".join(rewritten)
    return "\n".join(lines)


def float32_exact_model_string(model: str) -> str:
    """The model text with numerical thresholds floored to float32.

    The header's `tree_sizes` (byte length of each tree block, used by
    LightGBM's parallel loader) is recomputed because the rewrite changes them.
    """
    starts = [match.start() for match in _TREE_START.finditer(model)]
    if not starts:
        return model
    end = model.index("end of trees", starts[-1])
    header, tail = model[: starts[0]], model[end:]
    blocks = [_rewrite_tree(model[a:b]) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    sizes = "tree_sizes=" + " ".join(str(len(block.encode())) for block in blocks)
    header, replaced = _TREE_SIZES.subn(sizes, header, count=1)
    if replaced != 1:
        raise ValueError("LightGBM model text without a tree_sizes line")
    return header + "".join(blocks) + tail


def finalize_booster(booster: lgb.Booster, num_iteration: int | None) -> lgb.Booster:
    """A standalone copy keeping only the first `num_iteration` rounds, float32-exact.

    Truncating here (rather than relying on `best_iteration` at predict time)
    means the native predictor, the ONNX converter and any later reader all see
    the same trees.
    """
    text = booster.model_to_string(num_iteration=num_iteration)
    return lgb.Booster(model_str=float32_exact_model_string(text))
