"""Unit tests of the training pipeline's pieces: label join, time encoding, executors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantgate.ml.training.dataset import close_known_at
from quantgate.ml.training.parallel import run_tasks
from quantgate.ml.training.runs import HOUR_US, decode_times, encode_times, overlap_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_close_known_at_uses_the_bar_that_closed_one_delay_earlier() -> None:
    bars = pl.DataFrame(
        {
            "symbol": ["A", "A", "A"],
            "ts": [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)],
            "available_at": [
                T0 + timedelta(hours=1, seconds=5),
                T0 + timedelta(hours=2, seconds=5),
                T0 + timedelta(hours=3, minutes=5),  # published after the decision time
            ],
            "close": [1.0, 2.0, 3.0],
        }
    )
    out = close_known_at(bars, timedelta(minutes=1))
    assert out["asof"].to_list() == [
        T0 + timedelta(hours=1, minutes=1),
        T0 + timedelta(hours=2, minutes=1),
    ]
    assert out["close"].to_list() == [1.0, 2.0]


def test_time_runs_round_trip() -> None:
    times = np.array([0, 1, 2, 5, 6, 9], dtype=np.int64) * HOUR_US
    runs = encode_times(np.concatenate([times, times]))
    assert runs == [[0, 2 * HOUR_US], [5 * HOUR_US, 6 * HOUR_US], [9 * HOUR_US, 9 * HOUR_US]]
    assert decode_times(runs).tolist() == times.tolist()


def test_overlap_is_zero_only_when_purged() -> None:
    times = np.arange(100, dtype=np.int64) * HOUR_US
    clean = {
        "horizon_hours": 4,
        "train_times": encode_times(times[:50]),
        "test_times": encode_times(times[55:]),
    }
    leaky = {
        "horizon_hours": 4,
        "train_times": encode_times(times[:50]),
        "test_times": encode_times(times[52:]),
    }
    assert overlap_of(clean) == 0
    assert overlap_of(leaky) > 0


def _square(task: int, shared: dict[str, Any]) -> float:
    return float(shared["x"][task] ** 2 + shared["offset"])


def test_local_pool_returns_results_in_task_order() -> None:
    shared = {"x": np.arange(10, dtype=np.float64), "offset": 1.0}
    inline = run_tasks(_square, list(range(10)), shared, workers=1)
    pooled = run_tasks(_square, list(range(10)), shared, workers=2)
    assert inline == pooled == [float(i * i + 1) for i in range(10)]
