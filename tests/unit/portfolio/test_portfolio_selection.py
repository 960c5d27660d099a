import json

import numpy as np
import pytest
from portfolio_inputs import random_case, risk_model, sig

from quantgate.core import Bucket, ConfigurationError
from quantgate.portfolio import (
    ALLOCATOR_NAMES,
    AllocationResult,
    LegacyAllocator,
    PortfolioConfig,
    RiskModel,
    allocate,
)

SIGNALS = [sig("A", 1.0, strength=0.9), sig("B", -0.5, strength=0.6), sig("C", 0.0)]


def assert_fell_back(result: AllocationResult, reason_part: str) -> None:
    assert result.requested == "allocator_v2"
    assert result.allocator_used == "legacy"
    assert result.fallback_reason is not None
    assert reason_part in result.fallback_reason
    assert result.fell_back
    legacy = LegacyAllocator().allocate(SIGNALS)
    assert legacy.target_weights == {"A": 0.5, "B": -0.5, "C": 0.0}
    # allocator_v2's 25 % symbol cap still holds on legacy's equal weights.
    assert result.target_weights == {"A": 0.25, "B": -0.25, "C": 0.0}
    assert [(c.name, c.symbol, c.before, c.after) for c in result.bound_constraints] == [
        ("symbol_cap", "A", 0.5, 0.25),
        ("symbol_cap", "B", -0.5, -0.25),
    ]


def test_a_fallback_keeps_the_bucket_and_gross_caps() -> None:
    signals = [sig(s, 1.0) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")]
    broken = risk_model({s.symbol: float("nan") for s in signals})
    buckets = {
        "BTCUSDT": Bucket.MAJORS,
        "ETHUSDT": Bucket.MAJORS,
        "SOLUSDT": Bucket.L1,
        "XRPUSDT": Bucket.PAYMENTS,
        "DOGEUSDT": Bucket.MEME,
    }
    config = PortfolioConfig.parse(
        {"v2": {"max_weight_per_symbol": 0.5, "bucket_caps": {"majors": 0.3}, "max_gross": 0.7}}
    )
    assert isinstance(config, PortfolioConfig)

    result = allocate(signals, config, risk_model=broken, buckets=buckets)

    assert result.allocator_used == "legacy" and result.fell_back
    # Legacy: 0.2 each (gross 1.0). Majors 0.4 > 0.3 → 0.15 each; gross 0.9 > 0.7 → × 7/9.
    expected = {"BTCUSDT": 0.15, "ETHUSDT": 0.15, "SOLUSDT": 0.2, "XRPUSDT": 0.2, "DOGEUSDT": 0.2}
    assert result.target_weights == pytest.approx({s: w * 0.7 / 0.9 for s, w in expected.items()})
    assert sum(abs(w) for w in result.target_weights.values()) == pytest.approx(0.7)
    bound = {(c.name, c.bucket): (c.before, c.after, c.limit) for c in result.bound_constraints}
    assert bound[("bucket_cap", "majors")] == pytest.approx((0.4, 0.3 * 0.7 / 0.9, 0.3))
    assert bound[("gross_cap", None)] == pytest.approx((1.0, 0.7, 0.7))
    assert result.diagnostics["risk_budget_applied"] is False


def test_allocator_v2_is_the_default_and_reports_itself() -> None:
    model = risk_model({"A": 0.02, "B": 0.03, "C": 0.01})
    result = allocate(SIGNALS, risk_model=model)
    assert (result.requested, result.allocator_used, result.fallback_reason) == (
        "allocator_v2",
        "allocator_v2",
        None,
    )
    assert result.target_weights["C"] == 0.0


def test_legacy_on_request() -> None:
    result = allocate(SIGNALS, PortfolioConfig(allocator="legacy"))
    assert (result.requested, result.allocator_used, result.fallback_reason) == (
        "legacy",
        "legacy",
        None,
    )


def test_nan_covariance_falls_back_to_legacy_with_the_reason() -> None:
    model = risk_model(
        {"A": 0.02, "B": 0.03, "C": 0.01},
        [[1.0, np.nan, 0.0], [np.nan, 1.0, 0.0], [0.0, 0.0, 1.0]],
    )
    assert_fell_back(allocate(SIGNALS, risk_model=model), "NaN")


def test_singular_covariance_falls_back() -> None:
    # A hedge between two perfectly correlated symbols: not a duplicate, but no unique optimum.
    model = risk_model({"A": 0.02, "B": 0.02, "C": 0.01}, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert_fell_back(allocate(SIGNALS, risk_model=model), "singular")


def test_missing_inputs_fall_back() -> None:
    assert_fell_back(allocate(SIGNALS), "no risk model")
    partial = risk_model({"A": 0.02})
    assert_fell_back(allocate(SIGNALS, risk_model=partial), "no volatility or correlation for B")


def test_result_is_json_and_round_trips() -> None:
    signals, model = random_case(5, 6)
    buckets = {s.symbol: Bucket.MAJORS for s in signals[:3]}
    config = PortfolioConfig.model_validate(
        {"v2": {"max_weight_per_symbol": 0.2, "bucket_caps": {"majors": 0.3}}}
    )
    result = allocate(signals, config, risk_model=model, buckets=buckets)
    assert result.bound_constraints
    text = json.dumps(result.to_json(), allow_nan=False)
    assert AllocationResult.model_validate_json(text) == result
    payload = json.loads(text)
    assert set(payload) == {
        "allocator_used",
        "requested",
        "target_weights",
        "bound_constraints",
        "fallback_reason",
        "diagnostics",
    }
    assert set(payload["bound_constraints"][0]) == {
        "name",
        "symbol",
        "bucket",
        "before",
        "after",
        "limit",
        "detail",
    }


def test_risk_model_from_json_feeds_the_allocator() -> None:
    _, model = random_case(6, 4)
    signals = [sig(symbol, 1.0) for symbol in model.symbols]
    again = RiskModel.from_json(json.loads(json.dumps(model.to_json())))
    first = allocate(signals, risk_model=model)
    second = allocate(signals, risk_model=again)
    assert first == second


def test_config_names_and_validation() -> None:
    assert ALLOCATOR_NAMES == ("legacy", "allocator_v2")
    assert PortfolioConfig().config_hash == PortfolioConfig().config_hash
    assert PortfolioConfig(allocator="legacy").config_hash != PortfolioConfig().config_hash
    with pytest.raises(ConfigurationError, match="allocator"):
        PortfolioConfig.parse({"allocator": "allocator_v3"})
    with pytest.raises(ConfigurationError, match="risk_budget"):
        PortfolioConfig.parse({"v2": {"risk_budget": 0}})


def test_all_flat_needs_no_risk_model_and_is_no_fallback() -> None:
    exits = [sig("A", 0.0), sig("B", 0.0)]
    result = allocate(exits, risk_model=None)
    assert (result.allocator_used, result.fallback_reason) == ("allocator_v2", None)
    assert result.target_weights == {"A": 0.0, "B": 0.0}


def test_a_fallback_caps_a_pair_as_a_whole() -> None:
    # Legacy gives the pair half the equity split 1 : 2 (A 1/6, B -1/3) and C the other
    # half. B over the 0.25 cap scales the pair, A with it; C alone is clipped to 0.25. The
    # majors bucket (A and C) over 0.3 then scales C, and the pair again (B too, in l1).
    signals = [
        sig("A", 1 / 3, strategy="pairs", group="pair:A/B"),
        sig("B", -2 / 3, strategy="pairs", group="pair:A/B"),
        sig("C", 1.0),
    ]
    broken = risk_model({"A": float("nan"), "B": 0.02, "C": 0.02})
    buckets = {"A": Bucket.MAJORS, "B": Bucket.L1, "C": Bucket.MAJORS}
    config = PortfolioConfig.parse(
        {"v2": {"max_weight_per_symbol": 0.25, "bucket_caps": {"majors": 0.3}}}
    )
    assert isinstance(config, PortfolioConfig)
    result = allocate(signals, config, risk_model=broken, buckets=buckets)
    assert result.allocator_used == "legacy" and result.fell_back
    weights = result.target_weights
    assert -weights["B"] / weights["A"] == pytest.approx(2.0)
    # After the symbol caps: A 0.125, B -0.25, C 0.25; majors 0.375 → × 0.3 / 0.375.
    factor = 0.3 / 0.375
    assert weights == pytest.approx({"A": 0.125 * factor, "B": -0.25 * factor, "C": 0.25 * factor})
    assert result.diagnostics["groups"] == {"pairs:pair:A/B": ["A", "B"]}
