"""Frozen configs for the execution layer: costs, the simulated broker, policies, the gateway."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon


class FeeRate(ComponentConfig):
    """Fees of one venue tier in basis points of notional; a negative maker fee is a rebate."""

    maker_bps: Decimal = Field(ge=Decimal(-10), le=Decimal(100))
    taker_bps: Decimal = Field(ge=Decimal(0), le=Decimal(100))


class VenueFees(ComponentConfig):
    """A venue's fee schedule and the tier this account is on."""

    tier: str
    tiers: dict[str, FeeRate]

    @model_validator(mode="after")
    def _tier_is_listed(self) -> VenueFees:
        if self.tier not in self.tiers:
            raise ValueError(f"tier {self.tier!r} is not one of {sorted(self.tiers)}")
        return self


def _default_venues() -> dict[str, VenueFees]:
    return {
        "sim": VenueFees(
            tier="standard",
            tiers={"standard": FeeRate(maker_bps=Decimal(2), taker_bps=Decimal(5))},
        ),
        "binance": VenueFees(
            tier="vip0",
            tiers={
                "vip0": FeeRate(maker_bps=Decimal(10), taker_bps=Decimal(10)),
                "vip1": FeeRate(maker_bps=Decimal(9), taker_bps=Decimal(10)),
                "vip2": FeeRate(maker_bps=Decimal(8), taker_bps=Decimal(10)),
            },
        ),
        "alpaca": VenueFees(
            tier="standard",
            tiers={"standard": FeeRate(maker_bps=Decimal(0), taker_bps=Decimal(0))},
        ),
    }


class CostModelConfig(ComponentConfig):
    venues: dict[str, VenueFees] = Field(default_factory=_default_venues)
    # impact_bps = impact_coefficient · σ · sqrt(quantity / bar volume) · 10⁴
    impact_coefficient: float = Field(1.0, ge=0.0)
    # Without a quoted spread, half-spread = max(min, coefficient · σ · 10⁴).
    spread_volatility_coefficient: float = Field(0.05, ge=0.0)
    min_half_spread_bps: float = Field(1.0, ge=0.0)
    # σ of one bar's log return, used when the caller has no estimate.
    default_volatility: float = Field(0.01, gt=0.0)
    # Impact when the bar volume is unknown or zero, and the ceiling otherwise.
    max_impact_bps: float = Field(500.0, gt=0.0)


class SimBrokerConfig(ComponentConfig):
    venue: str = "sim"
    latency_seconds: float = Field(0.0, ge=0.0)
    bar_interval_seconds: int = Field(3600, gt=0)
    # Largest share of one bar's volume our orders may take, summed over our orders.
    participation_cap: float = Field(0.10, gt=0.0, le=1.0)
    # EWMA of squared close-to-close log returns; `default_volatility` of the cost model
    # is used until `volatility_min_bars` returns have been seen.
    volatility_halflife_bars: float = Field(24.0, gt=0.0)
    volatility_min_bars: int = Field(12, ge=1)


class ShortHorizonConfig(ComponentConfig):
    """Marketable IOC orders for 1h-4h signals."""

    # "limit": a marketable limit at decision price ± max_slippage_bps (protects
    # against a bad open); "market": a plain market order.
    order_type: Literal["limit", "market"] = "limit"
    max_slippage_bps: float = Field(50.0, gt=0.0)
    min_notional: Decimal = Field(Decimal(10), ge=0)
    # An order the venue filled only in part (the rest of the IOC cancelled: the bar's
    # participation cap met, or the open beyond the limit) is followed at the next event
    # by one for what is still to trade toward the same target, at the same bound, up to
    # this many times; a later decision replaces it. 0: the gap waits for the next decision.
    follow_ups: int = Field(3, ge=0, le=50)


class LongHorizonConfig(ComponentConfig):
    """TWAP or passive limit slices over a window for 1d-7d signals."""

    style: Literal["twap", "passive"] = "twap"
    window_seconds: dict[Horizon, int] = Field(
        default_factory=lambda: {Horizon.D1: 6 * 3600, Horizon.D7: 24 * 3600}
    )
    slices: int = Field(6, ge=1, le=500)
    # twap: marketable IOC limit at decision price ± max_slippage_bps per slice.
    max_slippage_bps: float = Field(50.0, gt=0.0)
    # passive: GTC limit at decision price ∓ passive_offset_bps, cancelled when the
    # next slice is due.
    passive_offset_bps: float = Field(5.0, ge=0.0)
    min_notional: Decimal = Field(Decimal(10), ge=0)
    # A slice that traded short (a passive slice that expired, an IOC slice that missed
    # or met the participation cap) leaves what it missed to the slices after it: each
    # slice, when it is due, takes its share of what the plan still has to trade, the
    # last one all of it. Off: every slice keeps its planned size and the plan ends short.
    carry_shortfall: bool = True
    # A slice due after the market moved the plan's way is priced from the last price then,
    # as the first slice was from the decision price; never worse than that first bound.
    # Off: every slice keeps the limit planned from the decision price.
    reprice_with_market: bool = True


class CircuitBreakerConfig(ComponentConfig):
    failure_threshold: int = Field(5, ge=1)
    cooldown_seconds: float = Field(60.0, gt=0.0)


class GatewayConfig(ComponentConfig):
    circuit: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    # An in-flight order the venue still does not know after this long is declared
    # rejected by reconciliation (a lost request); before that it stays in flight.
    unknown_grace_seconds: float = Field(300.0, ge=0.0)
