import pytest
from portfolio_inputs import sig

from quantgate.portfolio import LegacyAllocator


def test_equal_weight_signed_by_direction() -> None:
    signals = [
        sig("BTCUSDT", 0.3),
        sig("ETHUSDT", 1.0, strength=0.9),
        sig("SOLUSDT", -0.2),
        sig("XRPUSDT", 1.0),
    ]
    result = LegacyAllocator().allocate(signals)
    assert result.target_weights == {
        "BTCUSDT": 0.25,
        "ETHUSDT": 0.25,
        "SOLUSDT": -0.25,
        "XRPUSDT": 0.25,
    }
    assert result.allocator_used == result.requested == "legacy"
    assert result.fallback_reason is None
    assert result.diagnostics["gross"] == pytest.approx(1.0)
    assert result.diagnostics["net"] == pytest.approx(0.5)


def test_exits_get_zero_and_do_not_count() -> None:
    result = LegacyAllocator().allocate([sig("BTCUSDT", 1.0), sig("ETHUSDT", 0.0)])
    assert result.target_weights == {"BTCUSDT": 1.0, "ETHUSDT": 0.0}
    assert result.diagnostics["active_signals"] == 1


def test_signals_on_one_symbol_net() -> None:
    signals = [
        sig("BTCUSDT", 1.0, strategy="momentum"),
        sig("BTCUSDT", -1.0, strategy="mean_reversion"),
        sig("BTCUSDT", 0.5, strategy="ml_signal"),
        sig("ETHUSDT", 1.0),
    ]
    weights = LegacyAllocator().allocate(signals).target_weights
    assert weights == {"BTCUSDT": pytest.approx(0.25), "ETHUSDT": 0.25}
    assert sum(abs(w) for w in weights.values()) <= 1.0


def test_no_signals_no_weights() -> None:
    result = LegacyAllocator().allocate([])
    assert result.target_weights == {}
    assert result.diagnostics["gross"] == 0.0


def test_a_pair_is_one_position_split_by_its_hedge_ratio() -> None:
    # A pair long A, short 2 × B (exposures 1/3 and -2/3) beside a lone long: two positions,
    # half the equity each; the pair's half goes 1 : 2 over its legs.
    signals = [
        sig("AAA", 1 / 3, strategy="pairs", group="pair:AAA/BBB"),
        sig("BBB", -2 / 3, strategy="pairs", group="pair:AAA/BBB"),
        sig("CCC", 1.0),
    ]
    result = LegacyAllocator().allocate(signals)
    weights = result.target_weights
    assert weights == {
        "AAA": pytest.approx(1 / 6),
        "BBB": pytest.approx(-1 / 3),
        "CCC": 0.5,
    }
    assert -weights["BBB"] / weights["AAA"] == pytest.approx(2.0)
    assert result.diagnostics["active_positions"] == 2
    assert result.diagnostics["gross"] == pytest.approx(1.0)


def test_groups_are_per_strategy_and_a_lone_leg_is_a_position() -> None:
    signals = [
        # The same group name from two strategies: two positions of one leg each.
        sig("AAA", 0.5, strategy="pairs", group="g"),
        sig("BBB", -0.5, strategy="other", group="g"),
        # However small the legs, their ratio splits the group's share.
        sig("CCC", 1e-12, strategy="pairs", group="h"),
        sig("DDD", -3e-12, strategy="pairs", group="h"),
    ]
    result = LegacyAllocator().allocate(signals)
    assert result.diagnostics["active_positions"] == 3
    weights = result.target_weights
    assert weights["AAA"] == pytest.approx(1 / 3) and weights["BBB"] == pytest.approx(-1 / 3)
    assert weights["CCC"] == pytest.approx(1 / 12) and weights["DDD"] == pytest.approx(-1 / 4)
