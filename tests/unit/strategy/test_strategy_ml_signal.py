from datetime import timedelta

import pytest
from strategy_streams import START, bar
from strategy_streams import hourly_prediction as prediction

from quantgate.core import DataError, Horizon, ProgrammerError
from quantgate.strategy import MLSignalConfig, MLSignalStrategy
from quantgate.strategy.ml_signal import choose_horizon

S = "BTCUSDT"
H1, H4, D1, D7 = Horizon.H1, Horizon.H4, Horizon.D1, Horizon.D7


# Costs 10 bps, minimum edge 5 bps:
#   1h: |0.2%| − 0.1% = 0.10% edge, vol 1%   → 0.10 per unit vol
#   4h: |0.6%| − 0.1% = 0.50% edge, vol 2%   → 0.25
#   1d: confidence 0.50 < 0.55               → ineligible
#   7d: |−5%|  − 0.1% = 4.90% edge, vol 10%  → 0.49 (best, short)
MIXED = prediction(
    0,
    {H1: 0.002, H4: 0.006, D1: 0.03, D7: -0.05},
    {H1: 0.60, H4: 0.70, D1: 0.50, D7: 0.80},
    {H1: 0.01, H4: 0.02, D1: 0.04, D7: 0.10},
)


def test_picks_the_horizon_with_the_best_net_edge_per_unit_of_vol() -> None:
    choice = choose_horizon(MIXED, MLSignalConfig())
    assert choice is not None
    assert choice.horizon is D7
    assert choice.net_edge == pytest.approx(0.049)
    assert choice.sharpe == pytest.approx(0.49)


def test_signal_is_sized_by_edge_over_vol_and_carries_the_forecast() -> None:
    strategy = MLSignalStrategy(MLSignalConfig())
    [signal] = strategy.on_prediction(MIXED)
    assert signal.horizon is D7
    assert signal.target_exposure == pytest.approx(-0.49)
    assert signal.expected_return == -0.05
    assert signal.confidence == 0.80
    assert signal.vol_forecast == 0.10
    assert signal.asof == MIXED.asof
    doubled = MLSignalStrategy(MLSignalConfig(exposure_per_unit_sharpe=3.0, max_exposure=0.9))
    assert doubled.on_prediction(MIXED)[0].target_exposure == pytest.approx(-0.9)


def test_no_trade_when_the_edge_does_not_clear_costs() -> None:
    # 0.12% − 0.10% costs = 0.02% < 0.05% minimum edge, despite high confidence.
    thin = prediction(0, {H1: 0.0012}, {H1: 0.9}, {H1: 0.01})
    assert MLSignalStrategy(MLSignalConfig(horizons=(H1,))).on_prediction(thin) == []
    cheaper = MLSignalConfig(horizons=(H1,), cost_bps=2.0)
    assert MLSignalStrategy(cheaper).on_prediction(thin)[0].target_exposure > 0


def test_no_trade_without_confidence_and_no_short_when_long_only() -> None:
    unsure = prediction(0, {H4: 0.02}, {H4: 0.54}, {H4: 0.02})
    assert MLSignalStrategy(MLSignalConfig()).on_prediction(unsure) == []
    long_only = MLSignalStrategy(MLSignalConfig(allow_short=False))
    [signal] = long_only.on_prediction(MIXED)
    assert signal.horizon is H4
    assert signal.target_exposure == pytest.approx(0.25)


def test_resizes_only_past_the_rebalance_threshold_and_exits_when_the_edge_goes() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    vol = {H4: 0.02}
    conf = {H4: 0.7}
    first = strategy.on_prediction(prediction(0, {H4: 0.006}, conf, vol))  # 0.25
    small = strategy.on_prediction(prediction(1, {H4: 0.007}, conf, vol))  # 0.30: < 0.1 move
    large = strategy.on_prediction(prediction(2, {H4: 0.009}, conf, vol))  # 0.40
    flip = strategy.on_prediction(prediction(3, {H4: -0.003}, conf, vol))  # −0.10
    gone = strategy.on_prediction(prediction(4, {H4: 0.0005}, conf, vol))
    assert [s.target_exposure for s in first] == [pytest.approx(0.25)]
    assert small == []
    assert [s.target_exposure for s in large] == [pytest.approx(0.40)]
    assert [s.target_exposure for s in flip] == [pytest.approx(-0.10)]
    assert [s.target_exposure for s in gone] == [0.0]
    assert "no horizon clears" in gone[0].reason


def test_position_closes_when_its_forecast_expires_without_a_fresh_one() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    # Bar i is available at START + (i + 1) h + 1 min; the forecast made at START + 0.5 h
    # covers 4 h, so it expires at START + 4.5 h: bar 4 (5h01) is the first bar past it.
    strategy.on_prediction(prediction(0.5, {H4: 0.006}, {H4: 0.7}, {H4: 0.02}))
    assert strategy.on_bar(bar(S, 3, 100.0)) == []
    [exit_signal] = strategy.on_bar(bar(S, 4, 100.0))
    assert exit_signal.is_exit
    assert exit_signal.asof == bar(S, 4, 100.0).available_at
    assert exit_signal.horizon is H4
    assert "expired" in exit_signal.reason
    assert strategy.on_bar(bar(S, 5, 100.0)) == []


def test_a_fresh_forecast_keeps_the_position() -> None:
    strategy = MLSignalStrategy(MLSignalConfig(horizons=(H4,)))
    strategy.on_prediction(prediction(0.5, {H4: 0.006}, {H4: 0.7}, {H4: 0.02}))
    strategy.on_prediction(prediction(3.5, {H4: 0.0065}, {H4: 0.7}, {H4: 0.02}))
    assert strategy.on_bar(bar(S, 4, 100.0)) == []


def test_a_leaky_prediction_is_refused() -> None:
    leaky = prediction(
        0, {H1: 0.01}, {H1: 0.9}, {H1: 0.01}, max_input_available_at=START + timedelta(hours=1)
    )
    with pytest.raises(DataError, match="available only at"):
        MLSignalStrategy(MLSignalConfig()).on_prediction(leaky)


def test_replayed_predictions_are_ignored_and_old_ones_refused() -> None:
    strategy = MLSignalStrategy(MLSignalConfig())
    assert strategy.on_prediction(MIXED)
    assert strategy.on_prediction(MIXED) == []
    older = prediction(-1, {H1: 0.01}, {H1: 0.9}, {H1: 0.01})
    with pytest.raises(ProgrammerError):
        strategy.on_prediction(older)
