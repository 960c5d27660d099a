"""Transaction costs: one model shared by the simulated broker, pre-trade estimates and the trace.

Keeping one model everywhere means a backtest charges exactly what the policies
expected and what the trace reports, so a gap between modelled and realised
cost in paper or live is a finding, not a units mismatch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from quantgate.core.enums import Side
from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.execution.config import CostModelConfig, FeeRate

BPS = Decimal(10_000)


class Liquidity(StrEnum):
    MAKER = "maker"  # rests on the book: the price is ours, no spread or impact paid
    TAKER = "taker"  # crosses the spread and moves the price


@dataclass(frozen=True, slots=True)
class MarketContext:
    """What is known about the market when a cost is estimated.

    `volatility` is the standard deviation of one bar's log return (a fraction,
    not bps); `bar_volume` is in units of the instrument's quantity.
    """

    venue: str
    mid: Decimal | None = None
    bar_volume: Decimal | None = None
    volatility: float | None = None
    quoted_spread_bps: float | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    notional: Decimal
    fee_bps: Decimal
    fee: Decimal
    half_spread_bps: float
    impact_bps: float

    @property
    def price_bps(self) -> float:
        """The part of the cost paid through the price (spread and impact)."""
        return self.half_spread_bps + self.impact_bps

    @property
    def total(self) -> Decimal:
        """Fee plus the money lost to spread and impact."""
        return self.fee + self.notional * bps_to_decimal(self.price_bps) / BPS

    @property
    def total_bps(self) -> float:
        if self.notional == 0:
            return 0.0
        return float(self.total / self.notional * BPS)


def bps_to_decimal(bps: float) -> Decimal:
    """A float bps figure as a Decimal, rounded to 1e-6 bps so sqrt noise never reaches money."""
    if not math.isfinite(bps):
        raise ProgrammerError(f"non-finite cost {bps} bps")
    return Decimal(f"{bps:.6f}")


def price_after_costs(price: Decimal, side: Side, bps: float) -> Decimal:
    """The price a taker pays (buy) or receives (sell) after `bps` of spread and impact."""
    return price * (1 + side.sign * bps_to_decimal(bps) / BPS)


class CostModel(ABC):
    """Estimates what trading `quantity` at `price` costs; implementations differ in how."""

    @abstractmethod
    def estimate(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> CostBreakdown:
        """The cost of one order or fill of `quantity` at reference `price`."""


class StandardCostModel(CostModel):
    """Venue-tier fees, a half-spread, and square-root market impact by participation."""

    def __init__(self, config: CostModelConfig | None = None) -> None:
        self.config = config or CostModelConfig()

    def fee_rate(self, venue: str) -> FeeRate:
        fees = self.config.venues.get(venue)
        if fees is None:
            raise ConfigurationError(
                f"no fee schedule for venue {venue!r}",
                field="costs.venues",
                fix=f"add a [costs.venues.{venue}] table with its tier and maker/taker bps",
            )
        return fees.tiers[fees.tier]

    def half_spread_bps(self, market: MarketContext) -> float:
        if market.quoted_spread_bps is not None and math.isfinite(market.quoted_spread_bps):
            return max(market.quoted_spread_bps, 0.0) / 2
        proxy = self.config.spread_volatility_coefficient * self._sigma(market) * 10_000
        return max(self.config.min_half_spread_bps, proxy)

    def impact_bps(self, quantity: Decimal, market: MarketContext) -> float:
        volume = market.bar_volume
        if volume is None or volume <= 0:
            # Trading into an unknown or empty bar: charge the ceiling, never zero.
            return self.config.max_impact_bps
        participation = float(quantity / volume)
        impact = self.config.impact_coefficient * self._sigma(market) * math.sqrt(participation)
        return min(impact * 10_000, self.config.max_impact_bps)

    def estimate(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> CostBreakdown:
        if not (quantity.is_finite() and price.is_finite()) or quantity < 0 or price <= 0:
            raise ProgrammerError(f"cannot cost {quantity} at {price}")
        rate = self.fee_rate(market.venue)
        fee_bps = rate.maker_bps if liquidity is Liquidity.MAKER else rate.taker_bps
        notional = quantity * price
        if liquidity is Liquidity.MAKER:
            half_spread, impact = 0.0, 0.0
        else:
            half_spread = round(self.half_spread_bps(market), 6)
            impact = round(self.impact_bps(quantity, market), 6)
        return CostBreakdown(
            notional=notional,
            fee_bps=fee_bps,
            fee=notional * fee_bps / BPS,
            half_spread_bps=half_spread,
            impact_bps=impact,
        )

    def _sigma(self, market: MarketContext) -> float:
        sigma = market.volatility
        if sigma is None or not math.isfinite(sigma) or sigma <= 0:
            return self.config.default_volatility
        return sigma
