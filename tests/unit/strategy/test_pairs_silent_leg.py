"""An open pair whose other leg stops printing (a halt, a delisting) is closed after
`max_unpaired_bars` bars of the leg that still prints: a pair only steps on paired bars,
so without this not even its time stop would ever come."""

from __future__ import annotations

import pytest
from strategy_streams import bars_from_closes, cointegrated_closes

from quantgate.core import Bar
from quantgate.strategy import PairsConfig, PairsTradingStrategy


def strategy(**overrides: object) -> PairsTradingStrategy:
    values: dict[str, object] = {"pairs": (("A", "B"),), "window": 120}
    values.update(overrides)
    return PairsTradingStrategy(PairsConfig(**values))


def open_then_b_falls_silent(pairs: PairsTradingStrategy) -> list[Bar]:
    """Feed both legs until the pair opens; returns A's bars after that (B has none)."""
    closes_a, closes_b = cointegrated_closes(1_200, seed=3)
    bars_a, bars_b = bars_from_closes("A", closes_a), bars_from_closes("B", closes_b)
    for index, (bar_a, bar_b) in enumerate(zip(bars_a, bars_b, strict=True)):
        pairs.on_bar(bar_a)
        pairs.on_bar(bar_b)
        if pairs.open_pair("A", "B") is not None:
            return bars_a[index + 1 : index + 11]
    raise AssertionError("the pair never opened")


def test_an_open_pair_is_closed_when_a_leg_stops_printing() -> None:
    pairs = strategy()
    only_a = open_then_b_falls_silent(pairs)
    assert pairs.on_bar(only_a[0]) == [] and pairs.on_bar(only_a[1]) == []
    exits = pairs.on_bar(only_a[2])
    assert sorted(s.symbol for s in exits) == ["A", "B"]
    assert all(s.is_exit for s in exits)
    assert "B printed no bar for 3 of A's" in exits[0].reason
    assert pairs.open_pair("A", "B") is None
    assert all(pairs.on_bar(later) == [] for later in only_a[3:])  # closed once


def test_the_count_survives_a_restart() -> None:
    pairs = strategy()
    only_a = open_then_b_falls_silent(pairs)
    pairs.on_bar(only_a[0])
    pairs.on_bar(only_a[1])
    restored = strategy()
    restored.restore(pairs.checkpoint())
    assert [s.symbol for s in restored.on_bar(only_a[2])] == ["A", "B"]


@pytest.mark.parametrize("limit", [None, 20])
def test_waiting_longer_or_for_good_keeps_the_pair(limit: int | None) -> None:
    pairs = strategy(max_unpaired_bars=limit)
    only_a = open_then_b_falls_silent(pairs)
    assert all(pairs.on_bar(bar) == [] for bar in only_a)
    assert pairs.open_pair("A", "B") is not None
