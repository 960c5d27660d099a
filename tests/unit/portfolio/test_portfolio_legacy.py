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
