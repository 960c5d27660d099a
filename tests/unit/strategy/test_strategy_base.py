import numpy as np
import pytest
from strategy_streams import bar, bars_from_closes, json_round_trip, random_walk, run

from quantgate.core import ConfigurationError, DataError, ProgrammerError
from quantgate.strategy import MomentumConfig, MomentumStrategy


def test_a_replayed_bar_is_ignored() -> None:
    strategy = MomentumStrategy(MomentumConfig(lookback=2, entry_threshold=0.01))
    bars = bars_from_closes("BTCUSDT", [100.0, 100.0, 103.0])
    first = run(strategy, bars)
    assert len(first) == 1
    assert strategy.on_bar(bars[-1]) == []


def test_a_bar_from_the_past_is_a_programmer_error() -> None:
    strategy = MomentumStrategy(MomentumConfig())
    strategy.on_bar(bar("BTCUSDT", 5, 100.0))
    with pytest.raises(ProgrammerError, match="time order"):
        strategy.on_bar(bar("BTCUSDT", 4, 100.0))


def test_symbols_outside_the_configured_set_are_ignored() -> None:
    strategy = MomentumStrategy(
        MomentumConfig(lookback=2, entry_threshold=0.01, symbols=("ETHUSDT",))
    )
    assert run(strategy, bars_from_closes("BTCUSDT", [100.0, 100.0, 110.0])) == []
    assert strategy.checkpoint()["clocks"] == {}


def test_name_is_the_label_when_set() -> None:
    assert MomentumStrategy(MomentumConfig()).name == "momentum"
    labelled = MomentumStrategy(MomentumConfig(label="mom-fast", lookback=2, entry_threshold=0.01))
    assert labelled.name == "mom-fast"
    signals = run(labelled, bars_from_closes("BTCUSDT", [100.0, 100.0, 103.0]))
    assert [s.strategy for s in signals] == ["mom-fast"]


def test_restore_refuses_a_checkpoint_from_another_config() -> None:
    source = MomentumStrategy(MomentumConfig(lookback=5))
    run(source, bars_from_closes("BTCUSDT", random_walk(20, 1)))
    target = MomentumStrategy(MomentumConfig(lookback=6))
    with pytest.raises(ConfigurationError, match="config"):
        target.restore(source.checkpoint())


def test_restore_refuses_another_kind_and_another_state_version() -> None:
    checkpoint = MomentumStrategy(MomentumConfig()).checkpoint()
    with pytest.raises(ConfigurationError):
        MomentumStrategy(MomentumConfig()).restore({**checkpoint, "kind": "pairs"})
    with pytest.raises(ConfigurationError, match="state version"):
        MomentumStrategy(MomentumConfig()).restore({**checkpoint, "state_version": 99})


def test_a_malformed_checkpoint_is_a_data_error_and_leaves_a_clean_state() -> None:
    source = MomentumStrategy(MomentumConfig(lookback=3))
    run(source, bars_from_closes("BTCUSDT", random_walk(10, 2)))
    broken = json_round_trip(source.checkpoint())
    del broken["state"]["BTCUSDT"]["position"]
    target = MomentumStrategy(MomentumConfig(lookback=3))
    with pytest.raises(DataError, match="malformed checkpoint"):
        target.restore(broken)
    assert target.checkpoint()["state"] == {}
    assert target.checkpoint()["clocks"] == {}


def test_the_bar_interval_is_the_smallest_gap_and_survives_a_restore() -> None:
    strategy = MomentumStrategy(MomentumConfig())
    assert strategy._bar_interval("BTCUSDT") is None
    strategy.on_bar(bar("BTCUSDT", 0, 100.0))
    assert strategy._bar_interval("BTCUSDT") is None  # one bar: no gap yet
    strategy.on_bar(bar("BTCUSDT", 3, 100.0))
    outage = bar("BTCUSDT", 3, 1.0).ts - bar("BTCUSDT", 0, 1.0).ts
    assert strategy._bar_interval("BTCUSDT") == outage  # the only gap seen so far
    strategy.on_bar(bar("BTCUSDT", 4, 100.0))
    assert strategy._bar_interval("BTCUSDT") == outage / 3
    strategy.on_bar(bar("BTCUSDT", 9, 100.0))  # a second outage does not widen it
    assert strategy._bar_interval("BTCUSDT") == outage / 3
    restored = MomentumStrategy(MomentumConfig())
    restored.restore(json_round_trip(strategy.checkpoint()))
    assert restored._bar_interval("BTCUSDT") == outage / 3
    assert restored.checkpoint() == strategy.checkpoint()
    restored.on_bar(bar("BTCUSDT", 30, 100.0))
    assert restored._bar_interval("BTCUSDT") == outage / 3


def test_an_outage_before_a_signal_does_not_rescale_its_vol_forecast() -> None:
    closes = [100.0, 101.0, 100.5, 101.2, 100.8, 101.5, 101.0, 101.8, 101.3, 102.0, 106.0]
    forecasts = []
    for outage_bars in (0, 3, 23):
        strategy = MomentumStrategy(MomentumConfig(lookback=5, entry_threshold=0.02))
        indices = [*range(len(closes) - 1), len(closes) - 1 + outage_bars]
        bars = [bar("BTCUSDT", i, c) for i, c in zip(indices, closes, strict=True)]
        signals = run(strategy, bars)
        assert signals[-1].target_exposure == 1.0
        forecasts.append(signals[-1].vol_forecast)
    # Hourly bars, 1h horizon: the per-bar vol itself, whatever the outage before the bar.
    per_bar = float(np.std(np.diff(np.log(closes[-6:])), ddof=1))
    assert forecasts == [pytest.approx(per_bar, rel=1e-12)] * 3
