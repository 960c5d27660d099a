import math

import numpy as np
import pytest
from portfolio_inputs import random_case, risk_model, sig

from quantgate.core import Bucket, Horizon, Signal
from quantgate.portfolio import AllocationResult, AllocatorV2, AllocatorV2Config, RiskModel

# Two uncorrelated symbols, 2% daily vol, expected daily returns 0.04% and 0.02%.
# Half-Kelly weights are 0.5 · μ / σ² = (0.5, 0.25); ex-ante vol √(0.25+0.0625)·2% ≈ 1.118%.
TWO = risk_model({"A": 0.02, "B": 0.02})
SIGNALS = [
    sig("A", 1.0, strategy="ml_signal", expected_return=0.0004),
    sig("B", 1.0, strategy="ml_signal", expected_return=0.0002),
]
LOOSE = {
    "max_weight_per_symbol": 1.0,
    "default_bucket_cap": 1.0,
    "max_gross": 1.0,
    "risk_budget": 0.02,
}


def allocate(
    signals: list[Signal],
    model: RiskModel = TWO,
    buckets: dict[str, Bucket] | None = None,
    **config: object,
) -> AllocationResult:
    values = {**LOOSE, **config}
    return AllocatorV2(AllocatorV2Config(**values)).allocate(signals, model, buckets)


def bound(result: AllocationResult) -> dict[tuple[str, str | None], tuple[float, float, float]]:
    return {
        (c.name, c.symbol or c.bucket): (c.before, c.after, c.limit)
        for c in result.bound_constraints
    }


def test_unconstrained_weights_are_fractional_kelly() -> None:
    result = allocate(SIGNALS)
    assert result.target_weights == pytest.approx({"A": 0.5, "B": 0.25}, abs=1e-6)
    assert result.bound_constraints == []
    assert result.diagnostics["ex_ante_vol"] == pytest.approx(0.02 * math.sqrt(0.3125), rel=1e-5)


def test_correlated_weights_follow_the_inverse_covariance() -> None:
    model = risk_model({"A": 0.02, "B": 0.03}, [[1.0, 0.4], [0.4, 1.0]])
    signals = [
        sig("A", 1.0, expected_return=0.0006, strategy="ml"),
        sig("B", 1.0, expected_return=0.0009, strategy="ml"),
    ]
    expected = 0.5 * np.linalg.solve(model.covariance(["A", "B"]), [0.0006, 0.0009])
    assert np.all(expected > 0)
    result = allocate(signals, model, max_gross=5.0, default_bucket_cap=5.0, risk_budget=1.0)
    weights = [result.target_weights["A"], result.target_weights["B"]]
    assert weights == pytest.approx(expected.tolist(), rel=1e-5)


def test_symbol_cap_binds_and_is_reported() -> None:
    result = allocate(SIGNALS, max_weight_per_symbol=0.3)
    assert result.target_weights == pytest.approx({"A": 0.3, "B": 0.25}, abs=1e-6)
    assert bound(result) == {("symbol_cap", "A"): pytest.approx((0.5, 0.3, 0.3), abs=1e-6)}


def test_bucket_cap_binds_and_is_reported() -> None:
    # On the face w_A + w_B = 0.6 the marginal utilities are equal where w_A − w_B = 0.25.
    buckets = {"A": Bucket.MAJORS, "B": Bucket.MAJORS}
    result = allocate(SIGNALS, buckets=buckets, bucket_caps={Bucket.MAJORS: 0.6})
    assert result.target_weights == pytest.approx({"A": 0.425, "B": 0.175}, abs=1e-5)
    assert bound(result) == {("bucket_cap", "majors"): pytest.approx((0.75, 0.6, 0.6), abs=1e-6)}
    assert result.bound_constraints[0].detail == "A, B"


def test_symbols_without_a_bucket_share_other() -> None:
    result = allocate(SIGNALS, buckets={}, default_bucket_cap=0.6)
    assert bound(result) == {("bucket_cap", "other"): pytest.approx((0.75, 0.6, 0.6), abs=1e-6)}


def test_gross_cap_binds_and_is_reported() -> None:
    buckets = {"A": Bucket.MAJORS, "B": Bucket.L1}
    result = allocate(SIGNALS, buckets=buckets, max_gross=0.6)
    assert result.target_weights == pytest.approx({"A": 0.425, "B": 0.175}, abs=1e-5)
    assert bound(result) == {("gross_cap", None): pytest.approx((0.75, 0.6, 0.6), abs=1e-6)}


def test_risk_budget_binds_along_the_kelly_direction() -> None:
    unconstrained_vol = 0.02 * math.sqrt(0.3125)
    result = allocate(SIGNALS, risk_budget=0.005)
    scale = 0.005 / unconstrained_vol
    assert result.target_weights == pytest.approx({"A": 0.5 * scale, "B": 0.25 * scale}, rel=1e-4)
    assert bound(result) == {
        ("risk_budget", None): pytest.approx((unconstrained_vol, 0.005, 0.005), rel=1e-6)
    }


def test_risk_budget_and_expected_returns_are_rescaled_to_the_risk_model_horizon() -> None:
    hourly = RiskModel(("A", "B"), np.array([0.004, 0.004]), np.eye(2), Horizon.H1)
    signals = [
        # 0.24% over a day is 0.01% an hour; 0.01% over an hour stays as it is.
        sig("A", 1.0, expected_return=0.0024, horizon=Horizon.D1, strategy="ml"),
        sig("B", 1.0, expected_return=0.0001, horizon=Horizon.H1, strategy="ml"),
    ]
    result = allocate(signals, hourly, risk_budget=0.024)
    assert result.diagnostics["risk_budget"] == pytest.approx(0.024 / math.sqrt(24))
    assert result.diagnostics["expected_returns"] == pytest.approx({"A": 0.0001, "B": 0.0001})
    assert result.target_weights["A"] == pytest.approx(result.target_weights["B"], rel=1e-6)


def test_rule_signals_are_assumed_to_earn_the_configured_sharpe() -> None:
    signals = [sig("A", 0.8, strength=0.5), sig("B", -1.0, strength=1.0)]
    result = allocate(signals, assumed_annual_sharpe=2.0)
    daily_sharpe = 2.0 * math.sqrt(24 / 8760)
    assert result.diagnostics["expected_returns"] == pytest.approx(
        {"A": 0.8 * 0.5 * daily_sharpe * 0.02, "B": -1.0 * daily_sharpe * 0.02}
    )
    # Under the 100 % gross cap the optimum is all in B: moving weight x from B to A changes
    # the objective by (μ_A − |μ_B|) − λσ²(4x − 2) = −0.00126 + 0.0008 − 0.0016x < 0 at every x.
    assert result.target_weights["B"] == pytest.approx(-1.0, abs=1e-6)
    assert result.target_weights["A"] == pytest.approx(0.0, abs=1e-6)


def test_correlated_duplicates_keep_the_stronger() -> None:
    model = risk_model({"A": 0.02, "B": 0.02, "C": 0.02}, [[1, 0.95, 0], [0.95, 1, 0], [0, 0, 1]])
    signals = [
        sig("A", 1.0, strength=0.4, strategy="momentum"),
        sig("B", 1.0, strength=0.9, strategy="mean_reversion"),
        sig("C", 1.0, strength=0.1),
    ]
    result = allocate(signals, model)
    assert result.target_weights["A"] == 0.0
    assert result.target_weights["B"] > 0.0
    assert result.target_weights["C"] > 0.0
    [dedup] = [c for c in result.bound_constraints if c.name == "correlation_dedup"]
    assert (dedup.symbol, dedup.before, dedup.after, dedup.limit) == ("A", 1.0, 0.0, 0.9)
    assert "mean_reversion on B" in dedup.detail
    assert "0.950" in dedup.detail
    assert result.diagnostics["dropped_signals"] == 1


def test_a_hedge_is_not_a_duplicate() -> None:
    model = risk_model({"A": 0.02, "B": 0.02}, [[1, 0.95], [0.95, 1]])
    signals = [
        sig("A", 1.0, strength=0.4, expected_return=0.001, strategy="x"),
        sig("B", -1.0, strength=0.9, expected_return=-0.0005, strategy="y"),
    ]
    result = allocate(signals, model)
    assert result.target_weights["A"] > 0 > result.target_weights["B"]
    assert not [c for c in result.bound_constraints if c.name == "correlation_dedup"]


def test_pair_legs_are_never_deduplicated() -> None:
    model = risk_model(
        {"A": 0.02, "B": 0.02, "C": 0.02}, [[1, 0.97, 0.96], [0.97, 1, 0.95], [0.96, 0.95, 1]]
    )
    signals = [
        sig("A", 0.4, strength=0.5, strategy="pairs", group="pair:A/B"),
        sig("B", -0.6, strength=0.5, strategy="pairs", group="pair:A/B"),
        sig("C", 1.0, strength=0.9, strategy="momentum"),
    ]
    result = allocate(signals, model)
    assert result.diagnostics["dropped_signals"] == 0


def test_the_same_bet_from_two_strategies_counts_once() -> None:
    signals = [
        sig("A", 1.0, strength=0.9, strategy="momentum"),
        sig("A", 1.0, strength=0.3, strategy="ensemble"),
    ]
    result = allocate(signals)
    [dedup] = [c for c in result.bound_constraints if c.name == "correlation_dedup"]
    assert "ensemble on A duplicates the stronger momentum on A" in dedup.detail


@pytest.mark.parametrize("seed", range(40))
def test_every_cap_and_the_budget_hold_and_binding_ones_are_reported(seed: int) -> None:
    rng = np.random.default_rng(seed)
    signals, model = random_case(seed, int(rng.integers(2, 12)))
    buckets = {s.symbol: list(Bucket)[i % 3] for i, s in enumerate(signals)}
    config = AllocatorV2Config(
        risk_budget=float(rng.uniform(0.004, 0.04)),
        max_weight_per_symbol=float(rng.uniform(0.05, 0.5)),
        bucket_caps={Bucket.MAJORS: float(rng.uniform(0.1, 0.6))},
        default_bucket_cap=float(rng.uniform(0.2, 0.8)),
        max_gross=float(rng.uniform(0.5, 1.5)),
        correlation_threshold=0.5,
    )
    result = AllocatorV2(config).allocate(signals, model, buckets)
    symbols = sorted({s.symbol for s in signals})
    w = np.array([result.target_weights[s] for s in symbols])
    cov = model.covariance(symbols)
    vol = float(np.sqrt(w @ cov @ w))
    budget = config.risk_budget
    reported = bound(result)

    def check(key: tuple[str, str | None], value: float, limit: float) -> None:
        assert value <= limit * (1 + 1e-12), key
        assert (key in reported) == bool(value >= limit * (1 - 1e-6)), key

    for symbol, weight in zip(symbols, w, strict=True):
        check(("symbol_cap", symbol), abs(weight), config.max_weight_per_symbol)
    for bucket in set(buckets.values()):
        gross = sum(abs(result.target_weights[s]) for s in symbols if buckets[s] is bucket)
        check(("bucket_cap", bucket.value), gross, config.bucket_cap(bucket))
    check(("gross_cap", None), float(np.sum(np.abs(w))), config.max_gross)
    check(("risk_budget", None), vol, budget)
    assert result.diagnostics["ex_ante_vol"] == pytest.approx(vol)
    # Never against a signal: a weight is zero or has its kept signal's sign.
    for signal in signals:
        weight = result.target_weights[signal.symbol]
        assert weight == 0.0 or math.copysign(1, weight) == signal.direction
    for constraint in result.bound_constraints:
        if constraint.name != "correlation_dedup":
            assert constraint.after == pytest.approx(constraint.limit, rel=1e-6)


def test_deterministic_and_independent_of_input_order() -> None:
    signals, model = random_case(3, 8)
    buckets = {s.symbol: Bucket.MAJORS for s in signals[:4]}
    first = AllocatorV2().allocate(signals, model, buckets)
    again = AllocatorV2().allocate(list(reversed(signals)), model, buckets)
    assert first.to_json() == again.to_json()


def test_exits_and_an_empty_book() -> None:
    result = allocate([sig("A", 0.0), sig("B", 0.0)])
    assert result.target_weights == {"A": 0.0, "B": 0.0}
    assert result.bound_constraints == []
    assert allocate([]).target_weights == {}


def test_a_signal_s_vol_forecast_replaces_the_history_s_vol() -> None:
    # B's 4h forecast of 2 % is 2 % · √6 ≈ 4.9 % a day: Kelly weight μ/σ² shrinks by 6.
    forecast = Signal(
        symbol="B",
        asof=SIGNALS[1].asof,
        strategy="ml_signal",
        target_exposure=1.0,
        strength=0.5,
        horizon=Horizon.H4,
        reason="test",
        expected_return=0.0002 / 6,  # the same 0.02 % a day
        vol_forecast=0.02,
    )
    result = allocate([SIGNALS[0], forecast])
    assert result.target_weights == pytest.approx({"A": 0.5, "B": 0.25 / 6}, abs=1e-6)
    assert result.diagnostics["vol_sources"] == {"A": "history", "B": "forecast"}
    assert result.diagnostics["vols"]["B"] == pytest.approx(0.02 * math.sqrt(6))


# -- groups (a pair's legs) are one bet -------------------------------------------------------

PAIR_MODEL = risk_model({"A": 0.04, "B": 0.03, "C": 0.02}, [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]])


def pair(beta: float = 2.0, strength: float = 0.6) -> list[Signal]:
    gross = 1.0 + beta
    return [
        sig("A", 1.0 / gross, strength=strength, strategy="pairs", group="pair:A/B"),
        sig("B", -beta / gross, strength=strength, strategy="pairs", group="pair:A/B"),
    ]


def test_a_pair_keeps_its_hedge_ratio_when_the_symbol_cap_binds_on_its_larger_leg() -> None:
    result = allocate(pair(), PAIR_MODEL, max_weight_per_symbol=0.25, risk_budget=1.0)
    weights = result.target_weights
    assert weights["A"] > 0 > weights["B"]
    assert -weights["B"] / weights["A"] == pytest.approx(2.0, rel=1e-9)
    # The whole pair shrinks until its larger leg meets the cap: B at 0.25, A at 0.125.
    assert weights["B"] == pytest.approx(-0.25, rel=1e-6)
    assert set(bound(result)) == {("symbol_cap", "B")}
    assert result.diagnostics["groups"] == {
        "pairs:pair:A/B": {"A": pytest.approx(1 / 3), "B": pytest.approx(-2 / 3)}
    }


def test_a_pair_across_buckets_scales_as_a_whole_under_a_bucket_cap() -> None:
    buckets = {"A": Bucket.MAJORS, "B": Bucket.L1}
    result = allocate(pair(), PAIR_MODEL, buckets, bucket_caps={Bucket.L1: 0.1}, risk_budget=1.0)
    weights = result.target_weights
    assert weights["B"] == pytest.approx(-0.1, rel=1e-6)
    assert weights["A"] == pytest.approx(0.05, rel=1e-6)
    assert set(bound(result)) == {("bucket_cap", "l1")}


def test_a_symbol_traded_by_a_pair_and_a_lone_signal_stays_under_its_cap() -> None:
    # C alone, and A both in the pair (long) and long on its own: A's gross over both bets
    # is capped, and each bet keeps its own direction and proportions.
    signals = [*pair(), sig("A", 1.0, strength=0.9), sig("C", 1.0, strength=0.9)]
    result = allocate(signals, PAIR_MODEL, max_weight_per_symbol=0.3, risk_budget=1.0)
    weights = result.target_weights
    assert 0 < weights["A"] <= 0.3 * (1 + 1e-9) and weights["B"] < 0 and weights["C"] > 0
    assert ("symbol_cap", "A") in bound(result)
    assert sum(abs(w) for w in weights.values()) <= 1.0 + 1e-9


def test_a_lone_leg_of_a_group_is_sized_as_a_plain_signal() -> None:
    grouped = allocate([pair()[0], sig("C", 1.0)], PAIR_MODEL).target_weights
    plain = allocate([sig("A", 1 / 3, strength=0.6), sig("C", 1.0)], PAIR_MODEL).target_weights
    assert grouped == pytest.approx(plain, rel=1e-12)
