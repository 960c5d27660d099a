import numpy as np
import pytest
from strategy_streams import bars_from_closes, random_walk, run

from quantgate.core import ConfigurationError
from quantgate.strategy import MeanReversionConfig, MeanReversionStrategy, build_strategy

# Window 5: bar 4 → z 0, bar 5 → z −1.730 (below −1.5), bar 6 → z −0.392 (inside ±0.5).
CLOSES = [100.0, 101.0, 99.0, 100.0, 100.0, 94.0, 97.0]


def zscores(closes: list[float], window: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(closes)):
        if i < window - 1:
            out.append(None)
            continue
        x = np.asarray(closes[i - window + 1 : i + 1])
        out.append(float((x[-1] - x.mean()) / x.std(ddof=1)))
    return out


def test_the_hand_computed_zscores() -> None:
    z = zscores(CLOSES, 5)
    assert z[5] == pytest.approx((94 - 98.8) / np.sqrt(30.8 / 4))
    assert z[5] == pytest.approx(-1.7298, abs=1e-4)
    assert z[6] == pytest.approx(-1 / np.sqrt(6.5))


def test_long_below_the_entry_band_and_out_inside_the_exit_band() -> None:
    config = MeanReversionConfig(window=5, entry_z=1.5, exit_z=0.5)
    bars = bars_from_closes("BTCUSDT", CLOSES)
    signals = run(MeanReversionStrategy(config), bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [
        (bars[5].available_at, 1.0),
        (bars[6].available_at, 0.0),
    ]
    assert signals[0].strength == pytest.approx(1.7298 / 3.0, abs=1e-4)
    assert "below entry band" in signals[0].reason
    assert "exit band" in signals[1].reason


def test_short_above_the_entry_band() -> None:
    mirrored = [200.0 - c for c in CLOSES]
    config = MeanReversionConfig(window=5, entry_z=1.5, exit_z=0.5)
    bars = bars_from_closes("BTCUSDT", mirrored)
    signals = run(MeanReversionStrategy(config), bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [
        (bars[5].available_at, -1.0),
        (bars[6].available_at, 0.0),
    ]
    long_only = MeanReversionStrategy(config.model_copy(update={"allow_short": False}))
    assert run(long_only, bars) == []


def test_stop_band_closes_a_runaway() -> None:
    closes = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 97.0, 80.0]
    z = zscores(closes, 10)
    assert z[9] == pytest.approx(-2.589, abs=1e-3)
    assert z[10] == pytest.approx(-2.797, abs=1e-3)
    config = MeanReversionConfig(window=10, entry_z=2.0, exit_z=0.5, stop_z=2.7)
    bars = bars_from_closes("BTCUSDT", closes)
    signals = run(MeanReversionStrategy(config), bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [
        (bars[9].available_at, 1.0),
        (bars[10].available_at, 0.0),
    ]
    assert "stop band" in signals[1].reason


def test_no_entry_when_z_is_already_beyond_the_stop_band() -> None:
    closes = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 100.0, 80.0]
    z = zscores(closes, 10)
    assert z[9] is not None and z[9] <= -2.7
    config = MeanReversionConfig(window=10, entry_z=2.0, exit_z=0.5, stop_z=2.7)
    assert run(MeanReversionStrategy(config), bars_from_closes("BTCUSDT", closes)) == []


def test_a_flat_window_gives_no_signal() -> None:
    strategy = MeanReversionStrategy(MeanReversionConfig(window=5))
    assert run(strategy, bars_from_closes("BTCUSDT", [100.0] * 20)) == []


def test_window_is_bounded() -> None:
    strategy = MeanReversionStrategy(MeanReversionConfig(window=30))
    run(strategy, bars_from_closes("BTCUSDT", random_walk(10_000, 4)))
    closes = strategy._symbols["BTCUSDT"].closes
    assert closes.maxlen == 30
    assert len(closes) == 30


def test_bands_must_nest() -> None:
    with pytest.raises(ConfigurationError):
        build_strategy("mean_reversion", {"entry_z": 1.0, "exit_z": 1.0})
    with pytest.raises(ConfigurationError):
        build_strategy("mean_reversion", {"entry_z": 2.0, "stop_z": 1.5})
