import math
from collections import deque

import numpy as np
import pytest
from strategy_streams import bars_from_closes, random_walk, run

from quantgate.core import ConfigurationError, Horizon
from quantgate.strategy import MomentumConfig, MomentumStrategy, build_strategy

# Lookback-3 returns: bar 5 → +3.0%, bar 6 → +5.5% (crosses 5%), bar 7 → +4.95%,
# bar 8 → +0.97%, bar 9 → −5.2% (crosses −5%).
CLOSES = [100.0, 100.0, 100.0, 100.0, 101.0, 103.0, 105.5, 106.0, 104.0, 100.0]


def lookback_returns(closes: list[float], lookback: int) -> list[float | None]:
    return [
        None if i < lookback else closes[i] / closes[i - lookback] - 1 for i in range(len(closes))
    ]


def test_the_hand_computed_returns_are_what_the_test_claims() -> None:
    returns = lookback_returns(CLOSES, 3)
    assert returns[5] == pytest.approx(0.03)
    assert returns[6] == pytest.approx(0.055)
    assert returns[7] == pytest.approx(106 / 101 - 1)
    assert returns[9] == pytest.approx(100 / 105.5 - 1)


def test_enters_exactly_on_the_bar_the_lookback_return_crosses_the_threshold() -> None:
    strategy = MomentumStrategy(MomentumConfig(lookback=3, entry_threshold=0.05))
    bars = bars_from_closes("BTCUSDT", CLOSES)
    signals = run(strategy, bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [
        (bars[6].available_at, 1.0),
        (bars[9].available_at, -1.0),
    ]
    entry = signals[0]
    assert entry.strategy == "momentum"
    assert entry.horizon is Horizon.H1
    assert entry.strength == pytest.approx(0.055 / 0.10)
    assert "+0.05500" in entry.reason


def test_long_only_exits_instead_of_going_short() -> None:
    strategy = MomentumStrategy(MomentumConfig(lookback=3, entry_threshold=0.05, allow_short=False))
    bars = bars_from_closes("BTCUSDT", CLOSES)
    assert [(s.asof, s.target_exposure) for s in run(strategy, bars)] == [
        (bars[6].available_at, 1.0),
        (bars[9].available_at, 0.0),
    ]


def test_exit_threshold_gives_hysteresis() -> None:
    strategy = MomentumStrategy(
        MomentumConfig(lookback=3, entry_threshold=0.05, exit_threshold=0.02, max_exposure=0.5)
    )
    bars = bars_from_closes("BTCUSDT", CLOSES)
    signals = run(strategy, bars)
    # Bar 7 (+4.95%) stays long: below entry but above exit. Bar 8 (+0.97%) exits.
    assert [(s.asof, s.target_exposure) for s in signals[:2]] == [
        (bars[6].available_at, 0.5),
        (bars[8].available_at, 0.0),
    ]


def test_moving_average_crossover() -> None:
    closes = [100.0, 100.0, 100.0, 100.0, 100.0, 103.0, 104.0, 104.0]
    config = MomentumConfig(mode="ma_cross", fast_window=2, lookback=4, entry_threshold=0.01)
    scores = [
        None if i < 3 else np.mean(closes[i - 1 : i + 1]) / np.mean(closes[i - 3 : i + 1]) - 1
        for i in range(len(closes))
    ]
    first_cross = next(i for i, s in enumerate(scores) if s is not None and s > 0.01)
    assert first_cross == 6
    bars = bars_from_closes("ETHUSDT", closes)
    signals = run(MomentumStrategy(config), bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [(bars[6].available_at, 1.0)]


def test_vol_forecast_is_the_window_log_return_std_scaled_to_the_horizon() -> None:
    bars = bars_from_closes("BTCUSDT", CLOSES)
    signal = run(MomentumStrategy(MomentumConfig(lookback=3, entry_threshold=0.05)), bars)[0]
    window = np.log(CLOSES[3:7])
    assert signal.vol_forecast == pytest.approx(float(np.std(np.diff(window), ddof=1)))
    daily = MomentumStrategy(MomentumConfig(lookback=3, entry_threshold=0.05, horizon=Horizon.D1))
    scaled = run(daily, bars)[0]
    assert signal.vol_forecast is not None
    assert scaled.vol_forecast == pytest.approx(signal.vol_forecast * math.sqrt(24))


def test_each_symbol_has_its_own_window() -> None:
    strategy = MomentumStrategy(MomentumConfig(lookback=3, entry_threshold=0.05))
    btc = bars_from_closes("BTCUSDT", CLOSES)
    eth = bars_from_closes("ETHUSDT", [100.0] * len(CLOSES))
    interleaved = [b for pair in zip(btc, eth, strict=True) for b in pair]
    assert {s.symbol for s in run(strategy, interleaved)} == {"BTCUSDT"}


def test_window_is_bounded_by_the_lookback() -> None:
    strategy = MomentumStrategy(MomentumConfig(lookback=10))
    run(strategy, bars_from_closes("BTCUSDT", random_walk(10_000, 3)))
    closes = strategy._symbols["BTCUSDT"].closes
    assert isinstance(closes, deque)
    assert closes.maxlen == 11
    assert len(closes) == 11


def test_invalid_config_names_the_problem() -> None:
    with pytest.raises(ConfigurationError, match="hysteresis"):
        build_strategy("momentum", {"entry_threshold": 0.01, "exit_threshold": 0.02})
    with pytest.raises(ConfigurationError, match="fast_window"):
        build_strategy("momentum", {"mode": "ma_cross", "fast_window": 10, "lookback": 5})
