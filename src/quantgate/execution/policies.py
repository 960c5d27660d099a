"""Execution policies: turn a target-position delta into child orders and a schedule.

Short horizons (1h, 4h) cannot wait: their edge decays within the hour, so they
take liquidity at once with one marketable IOC order. Long horizons (1d, 7d)
can spread the trade over a window to pay less impact: TWAP slices (marketable
IOC each) or passive limit slices that rest until the next slice is due.
Every limit is bounded by the decision price, so a runaway market leaves a slice
unfilled instead of filling it anywhere. A slice that traded short leaves what it
missed to the slices after it (`LongHorizonConfig.carry_shortfall`): when due, each
slice is re-sized to its share of what the plan still has to trade (`catch_up`).

The slices of one plan are equal orders under ids that share the intent's part (see
`quantgate.execution.intent`), so the risk gate does not take them for duplicates. Each
slice is an order all the same to the gate's repeated-execution throttle
(`RiskLimits.max_executions_per_strategy_symbol`, 50 a day by default): a config whose
plan alone would reach it is refused when read (`quantgate.engine.slice_room`); near it,
the strategy's other orders can still disable the strategy part-way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from quantgate.core.enums import Horizon, OrderType, Side
from quantgate.core.types import Order
from quantgate.execution.brokers.base import TimeInForce
from quantgate.execution.brokers.matching import ceil_to_lot, floor_to_lot
from quantgate.execution.config import LongHorizonConfig, ShortHorizonConfig
from quantgate.execution.costs import (
    BPS,
    CostBreakdown,
    CostModel,
    Liquidity,
    MarketContext,
    bps_to_decimal,
)
from quantgate.execution.intent import ChildOrder, ExecutionIntent, ExecutionPlan

SHORT_HORIZON_EXEC = "short_horizon_exec"
LONG_HORIZON_EXEC = "long_horizon_exec"

SHORT_HORIZONS = frozenset({Horizon.H1, Horizon.H4})


class ExecutionPolicy(ABC):
    name: str
    cost_model: CostModel | None = None

    @abstractmethod
    def plan(self, intent: ExecutionIntent, market: MarketContext | None = None) -> ExecutionPlan:
        """Child orders that move the position to the target; none when there is nothing to
        do. With a cost model and a market context each child carries its cost estimate."""

    def _estimate(
        self,
        intent: ExecutionIntent,
        quantity: Decimal,
        liquidity: Liquidity,
        market: MarketContext | None,
    ) -> CostBreakdown | None:
        if self.cost_model is None or market is None:
            return None
        return self.cost_model.estimate(
            intent.side, quantity, intent.decision_price, market, liquidity=liquidity
        )

    def catch_up(
        self,
        child: ChildOrder,
        intent: ExecutionIntent,
        outstanding: Decimal,
        slices_left: int,
        market: MarketContext | None = None,
        largest: Decimal | None = None,
    ) -> ChildOrder | None:
        """The due `child` of `intent`'s plan as it should go out, given what the plan
        still has to trade (`outstanding`: toward the target, less what is open) over
        `slices_left` slices, this one included, and the `largest` quantity one order may
        have (None: no limit); None to send nothing. This policy's children go out as
        planned."""
        return child

    def reprice(self, child: ChildOrder, intent: ExecutionIntent, reference: Decimal) -> ChildOrder:
        """The due `child` of `intent`'s plan priced for the market at its release
        (`reference`: the last price known now). This policy's children keep their prices."""
        return child

    @property
    def max_follow_ups(self) -> int:
        """How many further slices `follow_up` sends after a plan's slices were cut short:
        none here (a multi-slice plan carries its shortfall within its own slices)."""
        return 0

    def follow_up(
        self,
        intent: ExecutionIntent,
        slice_index: int,
        release_at: datetime,
        market: MarketContext | None = None,
    ) -> ChildOrder | None:
        """Slice `slice_index` of `intent`'s plan, its earlier ones cut short; None past
        `max_follow_ups`."""
        return None


class ShortHorizonExec(ExecutionPolicy):
    name = SHORT_HORIZON_EXEC

    def __init__(
        self, config: ShortHorizonConfig | None = None, cost_model: CostModel | None = None
    ) -> None:
        self.config = config or ShortHorizonConfig()
        self.cost_model = cost_model

    def plan(self, intent: ExecutionIntent, market: MarketContext | None = None) -> ExecutionPlan:
        child = self._slice(intent, 0, intent.decision_time, market)
        return ExecutionPlan(intent, self.name, () if child is None else (child,))

    @property
    def max_follow_ups(self) -> int:
        return self.config.follow_ups

    def follow_up(
        self,
        intent: ExecutionIntent,
        slice_index: int,
        release_at: datetime,
        market: MarketContext | None = None,
    ) -> ChildOrder | None:
        """Slice `slice_index` of `intent`'s plan, its earlier ones cut short: what is still
        to trade (`intent` from the position now to the same target, decided when the plan
        was), at the first slice's price bound, released at `release_at`. None past
        `follow_ups`, or when too little is left."""
        if not 0 < slice_index <= self.max_follow_ups:
            return None
        return self._slice(intent, slice_index, release_at, market)

    def _slice(
        self,
        intent: ExecutionIntent,
        slice_index: int,
        release_at: datetime,
        market: MarketContext | None,
    ) -> ChildOrder | None:
        quantity = floor_to_lot(abs(intent.delta), intent.instrument.lot_size)
        if quantity <= 0 or quantity * intent.decision_price < self.config.min_notional:
            return None
        if self.config.order_type == "market":
            order_type, limit = OrderType.MARKET, None
        else:
            order_type = OrderType.LIMIT
            limit = bounded_limit(intent, self.config.max_slippage_bps)
        return _child(
            intent,
            self.name,
            slice_index=slice_index,
            slice_count=slice_index + 1,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit,
            time_in_force=TimeInForce.IOC,
            release_at=release_at,
            expires_at=None,
            estimate=self._estimate(intent, quantity, Liquidity.TAKER, market),
        )


class LongHorizonExec(ExecutionPolicy):
    name = LONG_HORIZON_EXEC

    def __init__(
        self, config: LongHorizonConfig | None = None, cost_model: CostModel | None = None
    ) -> None:
        self.config = config or LongHorizonConfig()
        self.cost_model = cost_model

    def plan(self, intent: ExecutionIntent, market: MarketContext | None = None) -> ExecutionPlan:
        lot = intent.instrument.lot_size
        total = floor_to_lot(abs(intent.delta), lot)
        if total <= 0 or total * intent.decision_price < self.config.min_notional:
            return ExecutionPlan(intent, self.name, ())
        quantities = self._slice_quantities(total, lot, intent.decision_price)
        window = timedelta(seconds=self.config.window_seconds.get(intent.horizon, 86400))
        interval = window / len(quantities)
        passive = self.config.style == "passive"
        liquidity = Liquidity.MAKER if passive else Liquidity.TAKER
        if passive:
            limit = passive_limit(intent, self.config.passive_offset_bps)
        else:
            limit = bounded_limit(intent, self.config.max_slippage_bps)
        children = []
        for index, quantity in enumerate(quantities):
            release_at = intent.decision_time + interval * index
            children.append(
                _child(
                    intent,
                    self.name,
                    slice_index=index,
                    slice_count=len(quantities),
                    quantity=quantity,
                    order_type=OrderType.LIMIT,
                    limit_price=limit,
                    time_in_force=TimeInForce.GTC if passive else TimeInForce.IOC,
                    release_at=release_at,
                    # A passive slice makes room for the next one instead of piling up.
                    expires_at=release_at + interval if passive else None,
                    estimate=self._estimate(intent, quantity, liquidity, market),
                )
            )
        return ExecutionPlan(intent, self.name, tuple(children))

    def catch_up(
        self,
        child: ChildOrder,
        intent: ExecutionIntent,
        outstanding: Decimal,
        slices_left: int,
        market: MarketContext | None = None,
        largest: Decimal | None = None,
    ) -> ChildOrder | None:
        """With `carry_shortfall`, the slice's share of what is still to trade: that over the
        slices left, up to the lot (the same sizes as planned when every slice filled; the
        lots a short slice missed spread over the ones after it, the last taking the rest).
        A share carried past the planned size stops at `largest` (an order the risk gate
        would deny for its size fills nothing; what it leaves goes to the slices after it).
        None when nothing is left, or too little to clear `min_notional` by more than a
        lot (a planned slice, floored to the lot, may fall up to a lot short of it)."""
        if not self.config.carry_shortfall or child.slice_count == 1:
            return child
        lot = intent.instrument.lot_size
        share = min(floor_to_lot(outstanding, lot), ceil_to_lot(outstanding / slices_left, lot))
        if largest is not None:
            share = min(share, max(child.order.quantity, floor_to_lot(largest, lot)))
        if share <= 0 or (share + lot) * intent.decision_price <= self.config.min_notional:
            return None
        if share == child.order.quantity:
            return child
        liquidity = Liquidity.MAKER if self.config.style == "passive" else Liquidity.TAKER
        return replace(
            child,
            order=replace(child.order, quantity=share),
            estimate=self._estimate(intent, share, liquidity, market),
        )

    def reprice(self, child: ChildOrder, intent: ExecutionIntent, reference: Decimal) -> ChildOrder:
        """With `reprice_with_market`, a slice due after the market moved the plan's way
        (down for a buy, up for a sell) is priced from `reference` as the plan priced its
        first slice from the decision price: a TWAP slice's limit `max_slippage_bps` from
        it, a passive slice's `passive_offset_bps` on the passive side of it. A limit left
        at the decision price would sit deep through the market (a passive slice then
        takes liquidity; past the gate's price collar the slice is denied and the plan
        misses the better price). A move against the plan changes nothing: no slice pays
        more than the decision bound (a buy's limit only ever goes down, a sell's up)."""
        limit = child.order.limit_price
        if not self.config.reprice_with_market or limit is None or child.slice_count == 1:
            return child
        if not (reference.is_finite() and reference > 0):
            return child
        if self.config.style == "passive":
            moved = _passive_limit_at(reference, intent, self.config.passive_offset_bps)
        else:
            moved = _bounded_limit_at(reference, intent, self.config.max_slippage_bps)
        if intent.side is Side.BUY:
            if moved >= limit:
                return child
        elif moved <= limit:
            return child
        return replace(child, order=replace(child.order, limit_price=moved))

    def _slice_quantities(self, total: Decimal, lot: Decimal, price: Decimal) -> list[Decimal]:
        """Lot-sized slices as equal as the lot allows, fewer when a slice would fall below a
        lot or min notional. The lots left over by the division go one each to the first
        slices: no slice is more than a lot larger than another, and they sum to `total`."""
        count = min(self.config.slices, int(total / lot))
        if self.config.min_notional > 0:
            count = min(count, int(total * price / self.config.min_notional))
        count = max(count, 1)
        each = floor_to_lot(total / count, lot)
        # `total` is on the lot grid, so the remainder is a whole number of lots below `count`.
        extra_lots = int((total - each * count) / lot)
        bigger = each + lot
        return [bigger] * extra_lots + [each] * (count - extra_lots)


class PolicyBook:
    """Picks the policy for a signal's horizon."""

    def __init__(
        self,
        short: ExecutionPolicy | None = None,
        long: ExecutionPolicy | None = None,
        *,
        cost_model: CostModel | None = None,
    ) -> None:
        self.short = short or ShortHorizonExec(cost_model=cost_model)
        self.long = long or LongHorizonExec(cost_model=cost_model)

    def for_horizon(self, horizon: Horizon) -> ExecutionPolicy:
        return self.short if horizon in SHORT_HORIZONS else self.long

    def plan(self, intent: ExecutionIntent, market: MarketContext | None = None) -> ExecutionPlan:
        return self.for_horizon(intent.horizon).plan(intent, market)


def bounded_limit(intent: ExecutionIntent, max_slippage_bps: float) -> Decimal:
    """A marketable limit no worse than the decision price by `max_slippage_bps`,
    rounded to the tick toward the decision price so the bound holds."""
    return _bounded_limit_at(intent.decision_price, intent, max_slippage_bps)


def passive_limit(intent: ExecutionIntent, offset_bps: float) -> Decimal:
    """A resting limit `offset_bps` better than the decision price, rounded further away."""
    return _passive_limit_at(intent.decision_price, intent, offset_bps)


def _bounded_limit_at(price: Decimal, intent: ExecutionIntent, max_slippage_bps: float) -> Decimal:
    offset = _bps_fraction(max_slippage_bps)
    if intent.side is Side.BUY:
        return _to_tick(price * (1 + offset), intent, ROUND_FLOOR)
    return _to_tick(price * (1 - offset), intent, ROUND_CEILING)


def _passive_limit_at(price: Decimal, intent: ExecutionIntent, offset_bps: float) -> Decimal:
    offset = _bps_fraction(offset_bps)
    if intent.side is Side.BUY:
        return _to_tick(price * (1 - offset), intent, ROUND_FLOOR)
    return _to_tick(price * (1 + offset), intent, ROUND_CEILING)


@lru_cache(maxsize=16)
def _bps_fraction(bps: float) -> Decimal:
    # A policy's configured bps as a fraction: the same few figures for every order, so
    # converted once each rather than once per order.
    return bps_to_decimal(bps) / BPS


def _to_tick(price: Decimal, intent: ExecutionIntent, rounding: str) -> Decimal:
    tick = intent.instrument.tick_size
    rounded = (price / tick).to_integral_value(rounding=rounding) * tick
    return max(rounded, tick)


def _child(
    intent: ExecutionIntent,
    policy: str,
    *,
    slice_index: int,
    slice_count: int,
    quantity: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    time_in_force: TimeInForce,
    release_at: datetime,
    expires_at: datetime | None,
    estimate: CostBreakdown | None,
) -> ChildOrder:
    order = Order(
        client_order_id=intent.client_order_id(slice_index),
        strategy=intent.strategy,
        instrument=intent.instrument,
        side=intent.side,
        order_type=order_type,
        quantity=quantity,
        created_at=release_at,
        limit_price=limit_price,
        mode=intent.mode,
    )
    return ChildOrder(
        order=order,
        time_in_force=time_in_force,
        release_at=release_at,
        expires_at=expires_at,
        policy=policy,
        scope=intent.scope,
        horizon=intent.horizon,
        decision_time=intent.decision_time,
        decision_price=intent.decision_price,
        target_quantity=intent.target_quantity,
        slice_index=slice_index,
        slice_count=slice_count,
        estimate=estimate,
    )
