import math
import re

import numpy as np
import pytest
from strategy_streams import (
    bar,
    bars_from_closes,
    cointegrated_closes,
    feed_bars,
    random_walk,
)

from quantgate.core import Bar, ConfigurationError
from quantgate.strategy import PairsConfig, PairsTradingStrategy, build_strategy


def interleave(a: list[float], b: list[float], *, b_first: bool = False) -> list[Bar]:
    out: list[Bar] = []
    for bar_a, bar_b in zip(bars_from_closes("A", a), bars_from_closes("B", b), strict=True):
        out.extend([bar_b, bar_a] if b_first else [bar_a, bar_b])
    return out


def pairs(**overrides: object) -> PairsTradingStrategy:
    values: dict[str, object] = {"pairs": (("A", "B"),), "window": 120}
    values.update(overrides)
    return PairsTradingStrategy(PairsConfig(**values))


def test_trades_a_cointegrated_pair_with_paired_legs() -> None:
    a, b = cointegrated_closes(400, 5, beta=1.3)
    strategy = pairs()
    signals = feed_bars(strategy, interleave(a, b))
    assert len(signals) >= 8
    assert len(signals) % 2 == 0
    for leg_a, leg_b in zip(signals[::2], signals[1::2], strict=True):
        assert (leg_a.symbol, leg_b.symbol) == ("A", "B")
        assert leg_a.asof == leg_b.asof
        assert leg_a.group == leg_b.group == "pair:A/B"
        if leg_a.is_exit:
            assert leg_b.is_exit
            continue
        # Long the spread = long A, short β·B; gross exposure is max_exposure.
        assert leg_a.direction == -leg_b.direction
        assert abs(leg_a.target_exposure) + abs(leg_b.target_exposure) == pytest.approx(1.0)
        hedge = leg_b.target_exposure / -leg_a.target_exposure
        quoted = re.search(r"hedge ratio ([0-9.]+)", leg_a.reason)
        assert quoted is not None
        assert hedge == pytest.approx(float(quoted.group(1)), abs=1e-4)
        # A 120-bar window identifies β only roughly; the truth is 1.3.
        assert 0.8 < hedge < 1.8
        assert leg_a.confidence is not None and leg_a.confidence > 0.95
    entries = [s for s in signals[::2] if not s.is_exit]
    exits = [s for s in signals[::2] if s.is_exit]
    assert len(entries) - len(exits) in (0, 1)


def test_entry_z_matches_an_independent_rolling_regression() -> None:
    a, b = cointegrated_closes(400, 5, beta=1.3)
    bars = interleave(a, b)
    signals = feed_bars(pairs(), bars)
    entry = next(s for s in signals if not s.is_exit)
    index = next(i for i, x in enumerate(bars[1::2]) if x.available_at == entry.asof)
    log_a = np.log(a[index - 119 : index + 1])
    log_b = np.log(b[index - 119 : index + 1])
    beta, alpha = np.polyfit(log_b, log_a, 1)
    residuals = log_a - alpha - beta * log_b
    # Residual std over n − 2 degrees of freedom (two fitted parameters).
    z = residuals[-1] / residuals.std(ddof=2)
    assert abs(z) >= 2.0
    reported = re.search(r"spread z ([+-][0-9.]+)", entry.reason)
    assert reported is not None
    assert float(reported.group(1)) == pytest.approx(z, abs=5e-4)
    assert entry.direction == (1 if z < 0 else -1)


@pytest.mark.parametrize("seed", range(8))
def test_no_trade_on_two_independent_random_walks(seed: int) -> None:
    a = random_walk(400, 100 + 2 * seed)
    b = random_walk(400, 101 + 2 * seed)
    strategy = pairs(significance=0.01)
    assert feed_bars(strategy, interleave(a, b)) == []
    # The spread did get wide; it was the cointegration gate that said no.
    assert strategy.blocked_entries("A", "B") > 0
    test = strategy.last_test("A", "B")
    assert test is not None
    assert test["statistic"] > test["critical_values"]["1%"]


def test_leg_order_within_a_timestamp_does_not_matter() -> None:
    a, b = cointegrated_closes(300, 9)
    first = feed_bars(pairs(), interleave(a, b))
    second = feed_bars(pairs(), interleave(a, b, b_first=True))
    key = [(s.asof, s.target_exposure) for s in first]
    assert key
    assert sorted(key) == sorted((s.asof, s.target_exposure) for s in second)


def test_a_leg_bar_without_its_partner_is_dropped() -> None:
    strategy = pairs(window=30)
    for index in range(10):
        strategy.on_bar(bar("A", index, 100.0 + index))
        if index != 4:
            strategy.on_bar(bar("B", index, 50.0 + math.sin(index)))
    state = strategy._pairs[("A", "B")]
    assert len(state.log_a) == len(state.log_b) == 9
    assert state.pending == {}


def test_open_pair_is_tracked_until_the_exit() -> None:
    a, b = cointegrated_closes(400, 5)
    strategy = pairs()
    bars = interleave(a, b)
    opened_seen = False
    for item in bars:
        for signal in strategy.on_bar(item):
            if signal.symbol == "B":
                opened = strategy.open_pair("A", "B")
                assert (opened is None) is signal.is_exit
                opened_seen |= opened is not None
    assert opened_seen


def test_windows_are_bounded() -> None:
    a, b = cointegrated_closes(3_000, 2)
    strategy = pairs(window=60)
    feed_bars(strategy, interleave(a, b))
    state = strategy._pairs[("A", "B")]
    assert state.log_a.maxlen == state.log_b.maxlen == 60
    assert len(state.log_a) == 60


@pytest.mark.parametrize(
    "params",
    [
        {"pairs": [["A", "B"], ["B", "C"]]},
        {"pairs": [["A", "A"]]},
        {"pairs": []},
        {"significance": 0.2},
        {"entry_z": 1.0, "exit_z": 1.0},
    ],
)
def test_invalid_config(params: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        build_strategy("pairs", params)
