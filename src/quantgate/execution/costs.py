"""Transaction costs: one model shared by the simulated broker, pre-trade estimates and the trace.

Keeping one model everywhere means the policies' estimates, the simulated broker's
charges and the trace's modelled figures share their units and formulas, so a gap
between modelled and realised cost in paper or live is a finding, not a units mismatch.

The trace's `impact_bps` is the pre-trade estimate for the whole order as a taker, in
the market it was decided in (what the policy expected when it chose to trade). A fill
may differ from it and the difference is the finding: a maker fill pays no spread or
impact, a partial fill moves the market by its own size only, and the simulated broker
charges with the fill bar's volume and volatility. Its `slippage_bps` against the
arrival mid is what the fill actually cost.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from quantgate.core.enums import Side
from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.core.slots import slot_init
from quantgate.execution.config import CostModelConfig, FeeRate

BPS = Decimal(10_000)


class Liquidity(StrEnum):
    MAKER = "maker"  # rests on the book: the price is ours, no spread or impact paid
    TAKER = "taker"  # crosses the spread and moves the price


# An estimate's inputs by identity: ids of quantity, price and market, then side, liquidity.
_Key = tuple[int, int, int, Side, Liquidity]


@slot_init  # one per symbol the engine orders in per event, one per simulated fill
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


@slot_init  # one per order (the policy's estimate) and one per fill's trace
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


_RECENT_ESTIMATES = 64


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

    def price_and_fee_bps(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> tuple[float, Decimal]:
        """`estimate(...)`'s price_bps and fee_bps: what a fill pays through its price
        (spread and impact) and in fees, for callers that need nothing else."""
        costs = self.estimate(side, quantity, price, market, liquidity=liquidity)
        return costs.price_bps, costs.fee_bps

    def marginal_price_bps(
        self, side: Side, before: Decimal, quantity: Decimal, price: Decimal, market: MarketContext
    ) -> float:
        """The spread and impact a taker fill of `quantity` pays when its side already took
        `before` in the same bar: what it adds to the cost of the whole, so an order split
        over one bar costs what it would whole."""
        whole, _ = self.price_and_fee_bps(side, before + quantity, price, market)
        prior, _ = self.price_and_fee_bps(side, before, price, market)
        return (float(before + quantity) * whole - float(before) * prior) / float(quantity)


class StandardCostModel(CostModel):
    """Venue-tier fees, a half-spread, and square-root market impact by participation."""

    def __init__(self, config: CostModelConfig | None = None) -> None:
        self._config = config or CostModelConfig()
        # Worked out from the (fixed) config: each venue's fee rate, and the latest estimates
        # by the identity of their immutable inputs (the policy costs a child and the
        # gateway costs it again with the very same objects).
        self._rates: dict[str, FeeRate] = {}
        self._recent: dict[_Key, tuple[Decimal, Decimal, MarketContext, CostBreakdown]] = {}

    @property
    def config(self) -> CostModelConfig:
        """Read-only: the caches above are only valid for this config."""
        return self._config

    def fee_rate(self, venue: str) -> FeeRate:
        rate = self._rates.get(venue)
        if rate is not None:
            return rate
        fees = self.config.venues.get(venue)
        if fees is None:
            raise ConfigurationError(
                f"no fee schedule for venue {venue!r}",
                field="costs.venues",
                fix=f"add a [costs.venues.{venue}] table with its tier and maker/taker bps",
            )
        rate = self._rates[venue] = fees.tiers[fees.tier]
        return rate

    def half_spread_bps(self, market: MarketContext) -> float:
        return self._half_spread_bps(market, self._sigma(market))

    def impact_bps(self, quantity: Decimal, market: MarketContext) -> float:
        return self._impact_bps(quantity, market, self._sigma(market))

    # The two above given the market's volatility (`_sigma`), which a taker's estimate
    # reads once for both.
    def _half_spread_bps(self, market: MarketContext, sigma: float) -> float:
        if market.quoted_spread_bps is not None and math.isfinite(market.quoted_spread_bps):
            return max(market.quoted_spread_bps, 0.0) / 2
        proxy = self._config.spread_volatility_coefficient * sigma * 10_000
        return max(self._config.min_half_spread_bps, proxy)

    def _impact_bps(self, quantity: Decimal, market: MarketContext, sigma: float) -> float:
        volume = market.bar_volume
        if volume is None or volume <= 0:
            # Trading into an unknown or empty bar: charge the ceiling, never zero.
            return self._config.max_impact_bps
        participation = float(quantity / volume)
        impact = self._config.impact_coefficient * sigma * math.sqrt(participation)
        return min(impact * 10_000, self._config.max_impact_bps)

    def _price_bps(self, quantity: Decimal, market: MarketContext) -> tuple[float, float]:
        """A taker's half-spread and impact, each rounded to 1e-6 bps."""
        sigma = self._sigma(market)
        return (
            round(self._half_spread_bps(market, sigma), 6),
            round(self._impact_bps(quantity, market, sigma), 6),
        )

    def estimate(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> CostBreakdown:
        key = (id(quantity), id(price), id(market), side, liquidity)
        recent = self._recent.get(key)
        if (
            recent is not None
            and recent[0] is quantity
            and recent[1] is price
            and recent[2] is market
        ):
            return recent[3]
        _check_costable(quantity, price)
        rate = self.fee_rate(market.venue)
        notional = quantity * price
        if liquidity is Liquidity.MAKER:
            fee_bps, half_spread, impact = rate.maker_bps, 0.0, 0.0
        else:
            fee_bps = rate.taker_bps
            half_spread, impact = self._price_bps(quantity, market)
        breakdown = CostBreakdown(notional, fee_bps, notional * fee_bps / BPS, half_spread, impact)
        if len(self._recent) >= _RECENT_ESTIMATES:
            self._recent.clear()
        # Keeping the inputs alive keeps their ids from being reused while the entry lives.
        self._recent[key] = (quantity, price, market, breakdown)
        return breakdown

    def price_and_fee_bps(
        self,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        market: MarketContext,
        *,
        liquidity: Liquidity = Liquidity.TAKER,
    ) -> tuple[float, Decimal]:
        # estimate() without the money figures (and without remembering the inputs).
        _check_costable(quantity, price)
        rate = self.fee_rate(market.venue)
        if liquidity is Liquidity.MAKER:
            return 0.0, rate.maker_bps  # makers pay no spread or impact: 0.0 + 0.0
        half_spread, impact = self._price_bps(quantity, market)
        return half_spread + impact, rate.taker_bps

    def marginal_price_bps(
        self, side: Side, before: Decimal, quantity: Decimal, price: Decimal, market: MarketContext
    ) -> float:
        # From the unrounded impacts, rounded once: rounding each first would be multiplied
        # by (before + quantity) / quantity, tens of bps on a small fill after a large one.
        _check_costable(before + quantity, price)
        sigma = self._sigma(market)
        whole = self._impact_bps(before + quantity, market, sigma)
        prior = self._impact_bps(before, market, sigma)
        impact = (float(before + quantity) * whole - float(before) * prior) / float(quantity)
        return round(self._half_spread_bps(market, sigma), 6) + round(impact, 6)

    def _sigma(self, market: MarketContext) -> float:
        sigma = market.volatility
        if sigma is None or not math.isfinite(sigma) or sigma <= 0:
            return self._config.default_volatility
        return sigma


def _check_costable(quantity: Decimal, price: Decimal) -> None:
    if not (quantity.is_finite() and price.is_finite()) or quantity < 0 or price <= 0:
        raise ProgrammerError(f"cannot cost {quantity} at {price}")
