"""The standard cost model against hand-computed numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantgate.core import ConfigurationError, Side
from quantgate.execution import (
    CostModelConfig,
    FeeRate,
    Liquidity,
    MarketContext,
    StandardCostModel,
    VenueFees,
)
from quantgate.execution.costs import price_after_costs

D = Decimal

TIERS = {
    "vip0": FeeRate(maker_bps=D(10), taker_bps=D(10)),
    "vip2": FeeRate(maker_bps=D(8), taker_bps=D("9.5")),
    "mm": FeeRate(maker_bps=D(-1), taker_bps=D(3)),
}


def model(tier: str = "vip0", **overrides: object) -> StandardCostModel:
    values: dict[str, object] = {
        "venues": {"binance": VenueFees(tier=tier, tiers=TIERS)},
        "impact_coefficient": 0.5,
        **overrides,
    }
    return StandardCostModel(CostModelConfig.model_validate(values))


def test_square_root_impact_and_quoted_half_spread() -> None:
    market = MarketContext("binance", bar_volume=D(1000), volatility=0.03, quoted_spread_bps=12.0)
    costs = model().estimate(Side.BUY, D(40), D(250), market)
    # impact = 0.5 · 0.03 · sqrt(40 / 1000) · 10⁴ = 0.5 · 0.03 · 0.2 · 10⁴ = 30 bps
    assert costs.impact_bps == pytest.approx(30.0)
    assert costs.half_spread_bps == 6.0  # half of the quoted 12 bps
    # notional 40 · 250 = 10 000; taker 10 bps → fee 10; spread + impact 36 bps → 36
    assert costs.notional == D(10_000)
    assert costs.fee == D(10)
    assert costs.total == D(46)
    assert costs.total_bps == pytest.approx(46.0)


def test_impact_grows_with_the_square_root_of_participation() -> None:
    cost = model()
    small = cost.impact_bps(D(10), MarketContext("binance", bar_volume=D(1000), volatility=0.02))
    large = cost.impact_bps(D(40), MarketContext("binance", bar_volume=D(1000), volatility=0.02))
    assert small == pytest.approx(0.5 * 0.02 * 0.1 * 10_000)  # 10 bps
    assert large == pytest.approx(2 * small)  # 4× the quantity, 2× the impact


def test_fees_follow_the_account_tier_and_the_side_of_the_book() -> None:
    market = MarketContext("binance", bar_volume=D(10**9), quoted_spread_bps=0.0)
    notional_args = (Side.SELL, D(2), D(5000))  # 10 000 of notional
    assert model("vip0").estimate(*notional_args, market, liquidity=Liquidity.MAKER).fee == D(10)
    assert model("vip2").estimate(*notional_args, market, liquidity=Liquidity.MAKER).fee == D(8)
    assert model("vip2").estimate(*notional_args, market).fee == D("9.5")
    rebate = model("mm").estimate(*notional_args, market, liquidity=Liquidity.MAKER)
    assert rebate.fee == D(-1)  # a maker rebate is a negative fee
    assert (rebate.half_spread_bps, rebate.impact_bps) == (0.0, 0.0)  # makers pay neither


def test_half_spread_from_volatility_when_no_quote() -> None:
    cost = model(spread_volatility_coefficient=0.05, min_half_spread_bps=1.0)
    assert cost.half_spread_bps(MarketContext("binance", volatility=0.02)) == pytest.approx(10.0)
    # A calm market still pays the floor.
    assert cost.half_spread_bps(MarketContext("binance", volatility=0.0001)) == 1.0


def test_unknown_volume_pays_the_ceiling_and_unknown_venue_is_a_config_error() -> None:
    cost = model(max_impact_bps=250.0)
    assert cost.impact_bps(D(1), MarketContext("binance")) == 250.0
    assert cost.impact_bps(D(1), MarketContext("binance", bar_volume=D(0))) == 250.0
    with pytest.raises(ConfigurationError, match="no fee schedule for venue 'kraken'"):
        cost.estimate(Side.BUY, D(1), D(1), MarketContext("kraken"))


def test_a_tier_must_exist_in_the_schedule() -> None:
    with pytest.raises(ValueError, match="tier 'vip9'"):
        VenueFees(tier="vip9", tiers=TIERS)


def test_price_after_costs_is_signed_by_side() -> None:
    assert price_after_costs(D(100), Side.BUY, 30.0) == D("100.300000")
    assert price_after_costs(D(100), Side.SELL, 30.0) == D("99.700000")
