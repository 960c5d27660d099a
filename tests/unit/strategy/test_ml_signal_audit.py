"""MLSignalStrategy fed malformed, partial or long streams of predictions: a broken
forecast is refused by name, a horizon no model serves is left out, a prediction about
none of the configured horizons does not end a position, restarts change nothing and the
state stays the same size however long the run."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from strategy_streams import START, bar
from strategy_streams import hourly_prediction as prediction

from quantgate.core import Bar, DataError, Horizon, Prediction
from quantgate.core.signals import Signal
from quantgate.strategy import MLSignalConfig, MLSignalStrategy
from quantgate.strategy.ml_signal import choose_horizon

S = "BTCUSDT"
H1, H4, D1, D7 = Horizon.H1, Horizon.H4, Horizon.D1, Horizon.D7


def long_4h(hours: float) -> Prediction:
    # 0.6% − 0.1% costs = 0.5% edge over 2% vol: exposure 0.25.
    return prediction(hours, {H4: 0.006}, {H4: 0.7}, {H4: 0.02})


@pytest.mark.parametrize("vol", [-0.02, 0.0])
def test_a_forecast_volatility_that_is_not_positive_is_refused_by_name(vol: float) -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    [entry] = strategy.on_prediction(long_4h(0))
    assert entry.target_exposure == pytest.approx(0.25)
    broken = prediction(1, {H4: 0.006}, {H4: 0.7}, {H4: vol})
    # Before: silently no candidate, so the open position was closed "for lack of edge".
    with pytest.raises(DataError, match=r"4h: vol_forecast -?0\.0\d* is not positive") as raised:
        strategy.on_prediction(broken)
    assert raised.value.field == "vol_forecast"
    with pytest.raises(DataError):
        choose_horizon(broken, MLSignalConfig())


@pytest.mark.parametrize(
    ("expected", "confidence", "vol", "missing"),
    [
        ({H4: 0.006}, {H4: 0.7}, {}, "vol_forecast"),
        ({H4: 0.006}, {}, {H4: 0.02}, "signal_confidence"),
        ({}, {H4: 0.7}, {H4: 0.02}, "expected_return"),
    ],
)
def test_half_a_horizon_is_refused_naming_what_it_lacks(
    expected: dict[Horizon, float],
    confidence: dict[Horizon, float],
    vol: dict[Horizon, float],
    missing: str,
) -> None:
    partial = prediction(0, expected, confidence, vol)
    strategy = MLSignalStrategy(MLSignalConfig())
    with pytest.raises(DataError, match=f"4h: no {missing}") as raised:
        strategy.on_prediction(partial)
    assert raised.value.field == missing


def test_a_horizon_no_model_serves_is_left_out_and_the_others_trade() -> None:
    # Only 1d is served; the 7d the config also wants is simply not a candidate.
    served = prediction(0, {D1: -0.03}, {D1: 0.8}, {D1: 0.04})
    choice = choose_horizon(served, MLSignalConfig(horizons=(D1, D7)))
    assert choice is not None and choice.horizon is D1
    # (3% − 0.1%) / 4% = 0.725, short.
    [signal] = MLSignalStrategy(MLSignalConfig(horizons=(D1, D7))).on_prediction(served)
    assert signal.target_exposure == pytest.approx(-0.725)


def test_a_prediction_about_other_horizons_does_not_end_the_position() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    strategy.on_prediction(long_4h(0.5))
    # A model for 1h only answers at 1.5 h: it says nothing about the 4 h forecast, which
    # still holds until 4.5 h. Before: an exit at 1.5 h, "no horizon clears ... costs".
    assert strategy.on_prediction(prediction(1.5, {H1: 0.0}, {H1: 0.5}, {H1: 0.01})) == []
    assert strategy.on_bar(bar(S, 3, 100.0)) == []  # published at 4h01
    [exit_signal] = strategy.on_bar(bar(S, 4, 100.0))  # published at 5h01
    assert exit_signal.is_exit
    assert "4h forecast from" in exit_signal.reason and "expired" in exit_signal.reason


def test_an_expired_long_forecast_exits_at_a_horizon_traded_at_once() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(D7,)))
    [entry] = strategy.on_prediction(prediction(0.5, {D7: 0.05}, {D7: 0.8}, {D7: 0.10}))
    assert entry.horizon is D7 and entry.target_exposure == pytest.approx(0.49)
    # The 7d forecast expires at 168.5 h: bar 168 (published 169h01) is the first past it.
    assert strategy.on_bar(bar(S, 167, 100.0)) == []
    [exit_signal] = strategy.on_bar(bar(S, 168, 100.0))
    assert exit_signal.is_exit and "7d forecast from" in exit_signal.reason
    # Before: stated over 7d, so the exit was worked as slices over another 24 h.
    assert exit_signal.horizon is H4


def test_choice_prefers_the_best_edge_per_unit_of_its_own_horizon_vol() -> None:
    # Each vol is over its own horizon (an hourly 1% scaled by sqrt(hours)); the edges per
    # unit of it are 1h: (0.4% − 0.1%)/1% = 0.30, 4h: (0.9% − 0.1%)/2% = 0.40,
    # 1d: (2.0% − 0.1%)/4.899% = 0.3878.
    hourly = 0.01
    forecast = prediction(
        0,
        {H1: 0.004, H4: 0.009, D1: 0.02},
        {H1: 0.6, H4: 0.6, D1: 0.6},
        {h: hourly * math.sqrt(h.hours) for h in (H1, H4, D1)},
    )
    choice = choose_horizon(forecast, MLSignalConfig(horizons=(H1, H4, D1)))
    assert choice is not None and choice.horizon is H4
    assert choice.sharpe == pytest.approx(0.40)


def stream(hours: int) -> list[Bar | Prediction]:
    """Hourly bars (published at HH:01) with a prediction two minutes later whose 4 h
    forecast swings long and short; no prediction in the last 6 of every 50 hours (an
    outage longer than the forecast)."""
    events: list[Bar | Prediction] = []
    for index in range(hours):
        published = bar(S, index, 100.0 + math.sin(index / 5.0))
        events.append(published)
        if index % 50 >= 44:
            continue
        expected = 0.012 * math.sin(index / 9.0)
        hours_after_start = (published.available_at - START) / timedelta(hours=1) + 1 / 30
        events.append(prediction(hours_after_start, {H4: expected}, {H4: 0.7}, {H4: 0.02}))
    return events


def play(strategy: MLSignalStrategy, events: list[Bar | Prediction]) -> list[Signal]:
    signals: list[Signal] = []
    for event in events:
        if isinstance(event, Prediction):
            signals.extend(strategy.on_prediction(event))
        else:
            signals.extend(strategy.on_bar(event))
    return signals


def test_a_restore_mid_position_continues_with_the_same_signals() -> None:
    config = MLSignalConfig(horizons=(H4,))
    events = stream(400)
    whole = play(MLSignalStrategy(config), events)
    assert len(whole) >= 20 and any(s.is_exit and "expired" in s.reason for s in whole)
    for cut in (37, 123, 250):
        first = MLSignalStrategy(config)
        before = play(first, events[:cut])
        restored = MLSignalStrategy(config)
        restored.restore(json.loads(json.dumps(first.checkpoint())))
        # The engine may hand the last event over again after a restart.
        after = play(restored, events[cut - 1 :])
        assert before + after == whole


def test_state_does_not_grow_with_the_length_of_the_run() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    events = stream(24 * 365)
    play(strategy, events[:500])
    early = len(json.dumps(strategy.checkpoint()))
    play(strategy, events[500:])
    assert len(json.dumps(strategy.checkpoint())) <= early + 8
