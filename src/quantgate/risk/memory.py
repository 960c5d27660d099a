"""The risk state a check reads, kept in memory: switches, open reservations, and the
allowed decisions the throttles count.

`RiskStateStore` loads it from the database and keeps it in step with what it writes,
so a check costs no query; the ledger's version of the risk rows tells the store when
someone else wrote and it must load again. Counts are over allowed decisions within
the throttles' windows; decisions older than the longest window are dropped as the
clock moves on (a clock stepping back does not bring them back).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from quantgate.core.enums import OrderType
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.decision import DailyAnchor, Reservation, RiskSnapshot

ZERO = Decimal(0)

# (strategy, symbol, side, order type, quantity text, own price text): what makes two
# orders the same order; a market order has no price of its own.
ContentKey = tuple[str, str, str, str, str, str | None]


def decimal_text(value: Decimal) -> str:
    """Canonical text: 1.0 and 1.00 compare equal as text; NaN is kept to be recorded."""
    return format(value.normalize(), "f") if value.is_finite() else str(value)


def content_key(
    strategy: str, symbol: str, side: str, order_type: str, quantity: str, price: str | None
) -> ContentKey:
    own = price if order_type in (OrderType.LIMIT.value, OrderType.STOP.value) else None
    return (strategy, symbol, side, order_type, quantity, own)


def order_content(order: Order) -> ContentKey:
    price = order.limit_price if order.order_type is OrderType.LIMIT else order.stop_price
    return content_key(
        order.strategy,
        order.instrument.symbol,
        order.side.value,
        order.order_type.value,
        decimal_text(order.quantity),
        None if price is None else decimal_text(price),
    )


@dataclass(frozen=True, slots=True)
class AllowedDecision:
    """What the throttles need of one allowed decision; `sequence` orders them as stored."""

    sequence: int
    client_order_id: str
    strategy: str
    symbol: str
    content: ContentKey
    decided_at: datetime


@dataclass(slots=True)
class Switches:
    kill_switch: bool = False
    daily_loss_latched: bool = False
    disabled_strategies: dict[str, str] = field(default_factory=dict)  # strategy -> why
    daily_anchor: DailyAnchor | None = None


class AllowedHistory:
    """Allowed decisions: every id ever (a re-sent id is a duplicate), and the recent ones
    by time, by (strategy, symbol) and by content."""

    def __init__(self, keep: timedelta) -> None:
        self._keep = keep
        self._ids: dict[str, int] = {}
        self._times: list[datetime] = []
        self._by_pair: dict[tuple[str, str], list[datetime]] = {}
        self._by_content: dict[ContentKey, list[AllowedDecision]] = {}
        self.next_sequence = 1

    def remember_id(self, client_order_id: str, sequence: int) -> None:
        self._ids.setdefault(client_order_id, sequence)
        self.next_sequence = max(self.next_sequence, sequence + 1)

    def add(self, decision: AllowedDecision) -> None:
        self.remember_id(decision.client_order_id, decision.sequence)
        insort(self._times, decision.decided_at)
        insort(
            self._by_pair.setdefault((decision.strategy, decision.symbol), []), decision.decided_at
        )
        insort(
            self._by_content.setdefault(decision.content, []),
            decision,
            key=lambda d: (d.decided_at, d.sequence),
        )

    def forget_before(self, now: datetime) -> None:
        """Drop what no window reaches any more (kept: decided after now - longest window)."""
        horizon = now - self._keep
        if not self._times or self._times[0] > horizon:
            return
        del self._times[: bisect_right(self._times, horizon)]
        for pair, times in list(self._by_pair.items()):
            del times[: bisect_right(times, horizon)]
            if not times:
                del self._by_pair[pair]
        for content, decisions in list(self._by_content.items()):
            del decisions[: bisect_right(decisions, horizon, key=lambda d: d.decided_at)]
            if not decisions:
                del self._by_content[content]

    def count_since(self, since: datetime) -> int:
        return len(self._times) - bisect_right(self._times, since)

    def count_pair_since(self, since: datetime, strategy: str, symbol: str) -> int:
        times = self._by_pair.get((strategy, symbol), ())
        return len(times) - bisect_right(times, since) if times else 0

    def duplicate_of(self, order: Order, since: datetime) -> str | None:
        """An allowed decision for the same id ever, or for the same content after `since`;
        the first stored when several are."""
        found: tuple[int, str] | None = None
        sequence = self._ids.get(order.client_order_id)
        if sequence is not None:
            found = (sequence, order.client_order_id)
        decisions = self._by_content.get(order_content(order), [])
        start = bisect_right(decisions, since, key=lambda d: d.decided_at)
        for decision in decisions[start:]:
            if found is None or decision.sequence < found[0]:
                found = (decision.sequence, decision.client_order_id)
        return None if found is None else found[1]


@dataclass(slots=True)
class Held:
    """An open reservation and the quantity it was made for."""

    reservation: Reservation
    quantity: Decimal


class RiskMemory:
    """Switches, open reservations and allowed decisions of one scope."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.switches = Switches()
        self.held: dict[str, Held] = {}
        keep = max(
            limits.order_rate_window_seconds,
            limits.execution_window_seconds,
            limits.duplicate_window_seconds,
        )
        self.allowed = AllowedHistory(timedelta(seconds=keep))

    def snapshot(self, order: Order, now: datetime, anchor: DailyAnchor | None) -> RiskSnapshot:
        """What a check of `order` reads at `now`, with the day's anchor as rolled for it."""
        limits, allowed, switches = self.limits, self.allowed, self.switches
        allowed.forget_before(now)
        return RiskSnapshot(
            now=now,
            kill_switch=switches.kill_switch,
            daily_loss_latched=switches.daily_loss_latched,
            disabled_strategies=frozenset(switches.disabled_strategies),
            daily_anchor=anchor,
            reservations=self.reservations(),
            orders_in_rate_window=allowed.count_since(
                now - timedelta(seconds=limits.order_rate_window_seconds)
            ),
            executions_in_window=allowed.count_pair_since(
                now - timedelta(seconds=limits.execution_window_seconds),
                order.strategy,
                order.instrument.symbol,
            ),
            duplicate_of=allowed.duplicate_of(
                order, now - timedelta(seconds=limits.duplicate_window_seconds)
            ),
        )

    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(held.reservation for held in self.held.values())

    def reserve(self, reservation: Reservation, quantity: Decimal) -> None:
        self.held[reservation.client_order_id] = Held(reservation, quantity)

    def fill(self, client_order_id: str, filled: Decimal) -> Decimal | None:
        """Shrink the reservation to what is unfilled; returns what remains, None if not held."""
        held = self.held.get(client_order_id)
        if held is None:
            return None
        remaining = max(min(held.reservation.remaining, held.quantity - filled), ZERO)
        if remaining > 0:
            held.reservation = replace(held.reservation, remaining=remaining)
        else:
            del self.held[client_order_id]
        return remaining

    def release(self, client_order_id: str) -> bool:
        return self.held.pop(client_order_id, None) is not None
