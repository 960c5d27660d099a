"""The simulated broker used by backtest and paper: bar-by-bar matching with modelled costs.

Timing: an order submitted at `t` goes live at `t + latency`. It can trade in a
bar only if that bar was not yet known at `t` (`bar.available_at > t`, so never
the bar that produced the signal, nor any earlier one) and the order was live
before the bar ended (`live_at < bar.ts + bar_interval`). Latency therefore acts
at bar granularity: an order not live before a bar closes waits for the next.

Volume: all our orders in a symbol together take at most `participation_cap` of
a bar's volume; what does not fit carries to the next bar (GTC) or is cancelled
(IOC). An IOC order gets one chance, its first eligible bar, and only at that bar's
open (see `matching`). Trade ids are `<venue>-<client_order_id>-<n>`: the same run
gives the same ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from quantgate.core.clock import Clock
from quantgate.core.enums import TERMINAL_STATUSES, OrderStatus, OrderType, Side
from quantgate.core.types import Bar, Fill, Order
from quantgate.execution.brokers.base import (
    Broker,
    FillBatch,
    OrderState,
    SubmitResult,
    TimeInForce,
)
from quantgate.execution.brokers.matching import (
    BarPrices,
    Touch,
    cap_at_limit,
    floor_to_lot,
    round_to_tick_against,
    touch,
)
from quantgate.execution.config import SimBrokerConfig
from quantgate.execution.costs import CostModel, Liquidity, MarketContext, price_after_costs
from quantgate.execution.volatility import VolatilityTracker

BPS = Decimal(10_000)
ZERO = Decimal(0)


@dataclass(slots=True)
class _Working:
    order: Order
    time_in_force: TimeInForce
    venue_order_id: str
    submitted_at: datetime
    live_at: datetime
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)
    triggered: bool = False
    reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled

    def state(self) -> OrderState:
        return OrderState(
            client_order_id=self.order.client_order_id,
            status=self.status,
            quantity=self.order.quantity,
            filled_quantity=self.filled,
            fills=tuple(self.fills),
            venue_order_id=self.venue_order_id,
            reason=self.reason,
        )


class SimulatedBroker(Broker):
    def __init__(
        self,
        clock: Clock,
        cost_model: CostModel,
        config: SimBrokerConfig | None = None,
    ) -> None:
        self.config = config or SimBrokerConfig()
        self.clock = clock
        self.cost_model = cost_model
        self._participation_cap = Decimal(repr(self.config.participation_cap))
        self._latency = timedelta(seconds=self.config.latency_seconds)
        self._interval = timedelta(seconds=self.config.bar_interval_seconds)
        self._volatility = VolatilityTracker(
            self.config.volatility_halflife_bars, self.config.volatility_min_bars
        )
        self._orders: dict[str, _Working] = {}
        self._fills: list[Fill] = []
        # Engine threads may submit while the feed thread matches; one lock keeps it simple.
        self._lock = threading.Lock()

    @property
    def venue(self) -> str:
        return self.config.venue

    def submit(self, order: Order, *, time_in_force: TimeInForce = TimeInForce.GTC) -> SubmitResult:
        problem = _venue_rule_violation(order)
        with self._lock:
            if order.client_order_id in self._orders:
                return SubmitResult.rejected(order.client_order_id, "duplicate client_order_id")
            if problem is not None:
                return SubmitResult.rejected(order.client_order_id, problem)
            now = self.clock.now()
            venue_order_id = f"{self.venue}-{len(self._orders) + 1}"
            self._orders[order.client_order_id] = _Working(
                order=order,
                time_in_force=time_in_force,
                venue_order_id=venue_order_id,
                submitted_at=now,
                live_at=now + self._latency,
            )
            self._accepted(order)
            return SubmitResult.accepted(order.client_order_id, venue_order_id)

    def _accepted(self, order: Order) -> None:
        """Called with the lock held once `order` is working, so that a subclass's own
        bookkeeping of it is in place before any bar can be matched."""

    def cancel(self, client_order_id: str) -> OrderState | None:
        with self._lock:
            working = self._orders.get(client_order_id)
            if working is None:
                return None
            if working.status not in TERMINAL_STATUSES:
                working.status = OrderStatus.CANCELLED
                working.reason = "cancelled on request"
            return working.state()

    def query(self, client_order_id: str) -> OrderState | None:
        with self._lock:
            working = self._orders.get(client_order_id)
            return None if working is None else working.state()

    def fills_since(self, cursor: str | None) -> FillBatch:
        with self._lock:
            start = int(cursor) if cursor else 0
            return FillBatch(tuple(self._fills[start:]), str(len(self._fills)))

    def open_orders(self) -> list[OrderState]:
        with self._lock:
            return [w.state() for w in self._orders.values() if w.status not in TERMINAL_STATUSES]

    def on_bar(self, bar: Bar) -> None:
        with self._lock:
            self._match_bar(bar)
            # Only after matching: the bar being traded must not inform its own costs.
            self._volatility.update(bar.symbol, bar.close)

    def _match_bar(self, bar: Bar) -> None:
        """Match the orders eligible in `bar`, oldest first; the caller holds the lock."""
        eligible = self._eligible(bar)
        if not eligible:
            return
        prices = BarPrices.of(bar)
        market = MarketContext(
            venue=self.venue,
            mid=prices.open,
            bar_volume=prices.volume,
            volatility=self._volatility.sigma(bar.symbol),
        )
        if len(eligible) > 1:
            # Fills at the open come first, whatever their place in the queue: they trade
            # earlier than any inside the bar (a triggered stop, a resting limit), so the
            # volume and the price the open leaves are theirs first. Stable: FIFO within.
            eligible.sort(key=lambda working: not self._trades_at_open(working, prices))
        room = self._participation_cap * prices.volume
        taken: dict[Side, Decimal] = {}
        for working in eligible:
            room -= self._match(working, bar, prices, market, room, taken)
            if working.time_in_force is TimeInForce.IOC and working.status not in TERMINAL_STATUSES:
                working.status = OrderStatus.CANCELLED
                working.reason = "ioc remainder cancelled"

    def _eligible(self, bar: Bar) -> list[_Working]:
        bar_end = bar.ts + self._interval
        return [
            working
            for working in self._orders.values()  # dicts keep submission order: FIFO
            if working.order.instrument.symbol == bar.symbol
            and working.status not in TERMINAL_STATUSES
            and bar.available_at > working.submitted_at
            and working.live_at < bar_end
        ]

    @staticmethod
    def _trades_at_open(working: _Working, prices: BarPrices) -> bool:
        where = touch(
            working.order,
            prices,
            may_rest=working.time_in_force is TimeInForce.GTC,
            triggered=working.triggered,
        )
        return where is not None and where.at_open

    def _match(
        self,
        working: _Working,
        bar: Bar,
        prices: BarPrices,
        market: MarketContext,
        room: Decimal,
        taken: dict[Side, Decimal],
    ) -> Decimal:
        """Fill what this bar allows; returns the quantity taken from the bar's volume.
        `taken`: what this bar's earlier fills took as taker on each side (updated)."""
        order = working.order
        where = touch(
            order,
            prices,
            may_rest=working.time_in_force is TimeInForce.GTC,
            triggered=working.triggered,
        )
        if where is None:
            return ZERO
        if order.order_type is OrderType.STOP:
            working.triggered = True
        instrument = order.instrument
        quantity = min(working.remaining, floor_to_lot(room, instrument.lot_size))
        if quantity <= 0:
            return ZERO
        side = order.side
        price, fee_bps = self._price(order, where, quantity, market, taken.get(side, ZERO))
        if where.liquidity is Liquidity.TAKER:
            taken[side] = taken.get(side, ZERO) + quantity
        filled_at = max(bar.ts, working.live_at) if where.at_open else bar.ts + self._interval
        cid, fills = order.client_order_id, working.fills
        trade_id = f"{self.venue}-{cid}-{len(fills) + 1}"
        fee = quantity * price * fee_bps / BPS
        # Positional: binding eight keywords to the fields costs a fifth of building a Fill.
        fill = Fill(trade_id, cid, instrument.symbol, order.side, quantity, price, fee, filled_at)
        fills.append(fill)
        working.filled += quantity
        working.status = (
            OrderStatus.FILLED if working.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        )
        self._fills.append(fill)
        return quantity

    def _price(
        self,
        order: Order,
        where: Touch,
        quantity: Decimal,
        market: MarketContext,
        taken_before: Decimal = ZERO,
    ) -> tuple[Decimal, Decimal]:
        price_bps, fee_bps = self.cost_model.price_and_fee_bps(
            order.side, quantity, where.price, market, liquidity=where.liquidity
        )
        price = where.price
        if where.liquidity is Liquidity.TAKER:
            if taken_before > 0:
                # Impact grows with the bar's whole participation: this fill pays what its
                # quantity adds to the cost of the side's earlier fills in the bar.
                price_bps = self.cost_model.marginal_price_bps(
                    order.side, taken_before, quantity, where.price, market
                )
            price = cap_at_limit(order, price_after_costs(price, order.side, price_bps))
        price = round_to_tick_against(price, order.side, order.instrument.tick_size)
        return price, fee_bps


def _venue_rule_violation(order: Order) -> str | None:
    """What a venue would refuse outright (the risk gate should have caught it first)."""
    quantity = order.quantity
    if not quantity.is_finite() or quantity <= 0:
        return f"quantity {quantity} is not positive"
    if not order.instrument.is_on_lot(quantity):
        return f"quantity {quantity} is not a multiple of lot {order.instrument.lot_size}"
    for name in ("limit_price", "stop_price"):
        price = getattr(order, name)
        if price is None:
            continue
        if not price.is_finite() or price <= 0:
            return f"{name} {price} is not positive"
        if not order.instrument.is_on_tick(price):
            return f"{name} {price} is not a multiple of tick {order.instrument.tick_size}"
    return None
