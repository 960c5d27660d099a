import pytest

from quantgate.core import ConfigurationError
from quantgate.strategy import (
    MeanReversionConfig,
    MomentumConfig,
    MomentumStrategy,
    build_strategy,
    strategy_config,
    strategy_names,
    strategy_spec,
)


def test_the_registered_names() -> None:
    assert strategy_names() == (
        "momentum",
        "mean_reversion",
        "bracket_momentum",
        "ensemble",
        "pairs",
        "ml_signal",
    )


@pytest.mark.parametrize("name", strategy_names())
def test_every_name_builds_its_class_with_its_default_config(name: str) -> None:
    spec = strategy_spec(name)
    strategy = build_strategy(name)
    assert type(strategy) is spec.strategy_type
    assert strategy.kind == name
    assert isinstance(strategy.config, spec.config_type)
    assert strategy.config == spec.config_type()
    assert spec.summary


def test_parameters_come_as_a_mapping_or_a_config() -> None:
    from_mapping = build_strategy("momentum", {"lookback": 12, "entry_threshold": 0.01})
    from_config = build_strategy("momentum", MomentumConfig(lookback=12, entry_threshold=0.01))
    assert isinstance(from_mapping, MomentumStrategy)
    assert from_mapping.config_hash == from_config.config_hash


def test_a_config_of_another_strategy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="MomentumConfig"):
        build_strategy("momentum", MeanReversionConfig())


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as error:
        build_strategy("momentun")
    assert "momentum, mean_reversion" in str(error.value)


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"strategy\.momentum\.lookback"):
        strategy_config("momentum", {"lookback": 0})
    with pytest.raises(ConfigurationError, match="not a known setting"):
        strategy_config("momentum", {"look_back": 5})


def test_ensemble_members_are_built_through_the_registry() -> None:
    ensemble = build_strategy(
        "ensemble",
        {"members": [{"strategy": "pairs", "weight": 1, "params": {"pairs": [["X", "Y"]]}}]},
    )
    assert [m.kind for m in ensemble.members] == ["pairs"]  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        build_strategy("ensemble", {"members": [{"strategy": "nope", "weight": 1}]})
    with pytest.raises(ConfigurationError, match=r"strategy\.pairs"):
        build_strategy(
            "ensemble", {"members": [{"strategy": "pairs", "weight": 1, "params": {"window": 2}}]}
        )


def test_required_symbols_are_a_strategy_s_own_symbols_pair_legs_and_members_needs() -> None:
    from quantgate.strategy.registry import required_symbols

    assert required_symbols("momentum") == ()
    assert required_symbols("momentum", {"symbols": ["SOLUSDT"]}) == ("SOLUSDT",)
    assert required_symbols("pairs") == ("BTCUSDT", "ETHUSDT")
    assert required_symbols(
        "pairs", {"pairs": [["SOLUSDT", "ADAUSDT"]], "symbols": ["XRPUSDT"]}
    ) == ("XRPUSDT", "SOLUSDT", "ADAUSDT")
    members = [
        {"strategy": "pairs", "weight": 0.5, "params": {"pairs": [["SOLUSDT", "ADAUSDT"]]}},
        {"strategy": "momentum", "weight": 0.5, "params": {"symbols": ["SOLUSDT", "BNBUSDT"]}},
    ]
    assert required_symbols("ensemble", {"members": members}) == (
        "SOLUSDT",
        "ADAUSDT",
        "BNBUSDT",
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "inf", "nan"])
@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        # A NaN stop fails every comparison: the stop would silently never fire.
        ("mean_reversion", {"stop_z": None}, "strategy.mean_reversion.stop_z"),
        ("pairs", {"stop_z": None}, "strategy.pairs.stop_z"),
        ("momentum", {"entry_threshold": None}, "strategy.momentum.entry_threshold"),
        (
            "bracket_momentum",
            {"take_profit_pct": None},
            "strategy.bracket_momentum.take_profit_pct",
        ),
        ("ml_signal", {"cost_bps": None}, "strategy.ml_signal.cost_bps"),
    ],
)
def test_non_finite_parameters_are_refused_naming_the_field(
    name: str, params: dict[str, object], field: str, value: object
) -> None:
    (key,) = params
    with pytest.raises(ConfigurationError, match="finite number") as raised:
        strategy_config(name, {key: value})
    assert raised.value.field == field


def test_an_infinite_ensemble_weight_is_refused_naming_the_member() -> None:
    members = [
        {"strategy": "momentum", "weight": float("inf")},
        {"strategy": "mean_reversion", "weight": 1.0},
    ]
    with pytest.raises(ConfigurationError, match="finite number") as raised:
        build_strategy("ensemble", {"members": members})
    assert raised.value.field == "strategy.ensemble.members.0.weight"


def test_adf_lags_beyond_what_the_window_can_test_are_refused_with_the_relation() -> None:
    pair = {"pairs": [["ETHUSDT", "BTCUSDT"]], "window": 60}
    assert strategy_config("pairs", {**pair, "adf_lags": 28})  # 60 = 2 × 28 + 4
    with pytest.raises(ConfigurationError, match=r"at most 28 for window 60") as raised:
        strategy_config("pairs", {**pair, "adf_lags": 29})
    assert raised.value.field == "strategy.pairs.adf_lags"
    assert "window >= 2 × adf_lags + 4" in str(raised.value)
    assert strategy_config("pairs", {**pair, "adf_lags": None})  # chosen by AIC, always fits


def test_ml_signal_needs_at_least_one_horizon() -> None:
    with pytest.raises(ConfigurationError, match="at least one horizon") as raised:
        strategy_config("ml_signal", {"horizons": []})
    assert raised.value.field == "strategy.ml_signal.horizons"
