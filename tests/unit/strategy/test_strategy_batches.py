"""The engine hands a strategy the bars of one event together (`on_bars`); that must be
exactly `on_bar` bar by bar, for every registered strategy. And the vectorised
indicators must equal the NumPy expressions they stand for, to the bit."""

from __future__ import annotations

import math
import struct
import warnings
from collections import deque
from itertools import groupby

import numpy as np
import pytest
from strategy_streams import Event, json_round_trip, market

from quantgate.core import Bar, Prediction, Signal
from quantgate.strategy import build_strategy, strategy_names
from quantgate.strategy.indicators import realised_vol


def _by_event(events: list[Event]) -> list[tuple[list[Bar], list[Prediction]]]:
    """Bars grouped by availability (as a feed makes events), predictions after them."""
    grouped: list[tuple[list[Bar], list[Prediction]]] = []
    for _, items in groupby(events, key=lambda e: e.available_at if isinstance(e, Bar) else e.asof):
        chunk = list(items)
        grouped.append(
            (
                [e for e in chunk if isinstance(e, Bar)],
                [e for e in chunk if isinstance(e, Prediction)],
            )
        )
    return grouped


@pytest.mark.parametrize("name", strategy_names())
def test_on_bars_is_on_bar_bar_by_bar(name: str) -> None:
    events = _by_event(market(400, 31))
    one_by_one, batched = build_strategy(name), build_strategy(name)
    expected: list[Signal] = []
    got: list[Signal] = []
    for bars, predictions in events:
        for bar in bars:
            expected.extend(one_by_one.on_bar(bar))
        got.extend(batched.on_bars(bars))
        for prediction in predictions:
            expected.extend(one_by_one.on_prediction(prediction))
            got.extend(batched.on_prediction(prediction))
    assert expected, "the market must make the strategy trade"
    assert got == expected
    assert json_round_trip(batched.checkpoint()) == json_round_trip(one_by_one.checkpoint())


def test_on_bars_skips_a_replayed_bar_like_on_bar() -> None:
    events = _by_event(market(300, 32, with_predictions=False))
    strategy = build_strategy("momentum")
    for bars, _ in events:
        strategy.on_bars(bars)
    last = events[-1][0]
    assert strategy.on_bars(last) == []


def _bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("<d", value)


def test_realised_vol_is_numpys_std_of_log_returns_to_the_bit() -> None:
    rng = np.random.default_rng(5)
    for trial in range(3000):
        count = int(rng.choice([3, 4, 7, 8, 9, 16, 17, 100, 127, 128, 129, 169, 257, 1441]))
        scale = 10 ** rng.uniform(-3, 5)
        closes = list(scale * np.exp(np.cumsum(rng.normal(0.0, rng.choice([1e-4, 1e-2]), count))))
        if trial % 100 == 0:
            closes[int(rng.integers(count))] = 0.0
        window = deque((float(c) for c in closes), maxlen=count)
        array = np.asarray(window, dtype=np.float64)
        if np.any(array <= 0):
            expected = None
        else:
            vol = float(np.std(np.diff(np.log(array)), ddof=1))
            expected = vol if vol > 0.0 else None
        assert _bits(realised_vol(window)) == _bits(expected)


def test_realised_vol_without_enough_or_usable_closes() -> None:
    assert realised_vol([100.0, 101.0]) is None
    assert realised_vol([100.0, 100.0, 100.0]) is None  # no movement, no vol
    assert realised_vol([100.0, float("nan"), 101.0]) is None
    assert realised_vol([100.0, -1.0, 101.0]) is None
    assert math.isclose(realised_vol([100.0, 101.0, 100.0]) or 0.0, 0.014071, rel_tol=1e-4)


def test_realised_vol_finds_a_close_at_or_below_zero_among_nans() -> None:
    # A NaN must not hide a non-positive close: it is refused before any log is taken
    # (a log of it would warn, an error here).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert realised_vol([100.0, float("nan"), -1.0, 101.0]) is None
        assert realised_vol(deque([float("nan"), 0.0, 101.0, 102.0])) is None
        assert realised_vol([100.0, -0.0, 101.0]) is None
        assert realised_vol([float("-inf"), float("nan"), 101.0]) is None
        assert realised_vol([float("nan")] * 4) is None
