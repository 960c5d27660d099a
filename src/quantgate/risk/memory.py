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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

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


# Looked up once: an enum member's .value is a property call.
_PRICED_TYPES = frozenset({OrderType.LIMIT.value, OrderType.STOP.value})


def content_key(
    strategy: str, symbol: str, side: str, order_type: str, quantity: str, price: str | None
) -> ContentKey:
    own = price if order_type in _PRICED_TYPES else None
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
        # The recent decisions by time, and their times alone for bisecting: the same order.
        self._times: list[datetime] = []
        self._recent: list[AllowedDecision] = []
        self._by_pair: dict[tuple[str, str], list[datetime]] = {}
        self._by_content: dict[ContentKey, list[AllowedDecision]] = {}
        self.next_sequence = 1

    def remember_id(self, client_order_id: str, sequence: int) -> None:
        self._ids.setdefault(client_order_id, sequence)
        self.next_sequence = max(self.next_sequence, sequence + 1)

    def add(self, decision: AllowedDecision) -> None:
        self.remember_id(decision.client_order_id, decision.sequence)
        at = decision.decided_at
        index = bisect_right(self._times, at)
        self._times.insert(index, at)
        self._recent.insert(index, decision)
        insort(self._by_pair.setdefault((decision.strategy, decision.symbol), []), at)
        insort(self._by_content.setdefault(decision.content, []), decision, key=_stored_order)

    def forget_before(self, now: datetime) -> None:
        """Drop what no window reaches any more (kept: decided after now - longest window)."""
        horizon = now - self._keep
        times = self._times
        if not times or times[0] > horizon:
            return
        count = bisect_right(times, horizon)
        dropped = self._recent[:count]
        del times[:count], self._recent[:count]
        # Each list by pair and by content holds the same decisions, sorted by time: its
        # entries this old are its first ones, one for each dropped decision of its own.
        by_pair, by_content = self._by_pair, self._by_content
        for decision in dropped:
            pair = (decision.strategy, decision.symbol)
            pair_times = by_pair[pair]
            del pair_times[0]
            if not pair_times:
                del by_pair[pair]
            decisions = by_content[decision.content]
            del decisions[0]
            if not decisions:
                del by_content[decision.content]

    def count_since(self, since: datetime) -> int:
        return len(self._times) - bisect_right(self._times, since)

    def count_pair_since(self, since: datetime, strategy: str, symbol: str) -> int:
        return _count_after(self._by_pair.get((strategy, symbol)), since)

    def duplicate_of(self, order: Order, since: datetime) -> str | None:
        """An allowed decision for the same id ever, or for the same content after `since`;
        the first stored when several are."""
        pair_times = self._by_pair.get((order.strategy, order.instrument.symbol))
        return self._duplicate_of(order, since, pair_times)

    def throttle_figures(
        self, order: Order, rate_since: datetime, pair_since: datetime, duplicate_since: datetime
    ) -> tuple[int, int, str | None]:
        """`count_since(rate_since)`, `count_pair_since(pair_since, ...)` for the order's
        strategy and symbol, and `duplicate_of(order, duplicate_since)`, in one call."""
        pair_times = self._by_pair.get((order.strategy, order.instrument.symbol))
        return (
            self.count_since(rate_since),
            _count_after(pair_times, pair_since),
            self._duplicate_of(order, duplicate_since, pair_times),
        )

    def _duplicate_of(
        self, order: Order, since: datetime, pair_times: list[datetime] | None
    ) -> str | None:
        found: tuple[int, str] | None = None
        sequence = self._ids.get(order.client_order_id)
        if sequence is not None:
            found = (sequence, order.client_order_id)
        # Same content means the same strategy and symbol: with none of those since, there is
        # no need to work out the order's content (its canonical texts) at all.
        if not _count_after(pair_times, since):
            return None if found is None else found[1]
        decisions = self._by_content.get(order_content(order), [])
        start = bisect_right(decisions, since, key=_decided_at)
        for decision in decisions[start:]:
            if found is None or decision.sequence < found[0]:
                found = (decision.sequence, decision.client_order_id)
        return None if found is None else found[1]


def _count_after(times: list[datetime] | None, since: datetime) -> int:
    return len(times) - bisect_right(times, since) if times else 0


def _decided_at(decision: AllowedDecision) -> datetime:
    return decision.decided_at


def _stored_order(decision: AllowedDecision) -> tuple[datetime, int]:
    return decision.decided_at, decision.sequence


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
        self._held: dict[str, Held] = {}
        # Read-only: the reservations tuple below is kept only while `reserve`, `fill` and
        # `release` are the only ways to change what is held.
        self.held: Mapping[str, Held] = MappingProxyType(self._held)
        self._reservations: tuple[Reservation, ...] | None = ()
        self._rate_window = timedelta(seconds=limits.order_rate_window_seconds)
        self._execution_window = timedelta(seconds=limits.execution_window_seconds)
        self._duplicate_window = timedelta(seconds=limits.duplicate_window_seconds)
        keep = max(self._rate_window, self._execution_window, self._duplicate_window)
        self.allowed = AllowedHistory(keep)

    def snapshot(self, order: Order, now: datetime, anchor: DailyAnchor | None) -> RiskSnapshot:
        """What a check of `order` reads at `now`, with the day's anchor as rolled for it."""
        allowed, switches = self.allowed, self.switches
        allowed.forget_before(now)
        orders_in_rate_window, executions_in_window, duplicate_of = allowed.throttle_figures(
            order,
            now - self._rate_window,
            now - self._execution_window,
            now - self._duplicate_window,
        )
        return RiskSnapshot(
            now=now,
            kill_switch=switches.kill_switch,
            daily_loss_latched=switches.daily_loss_latched,
            disabled_strategies=frozenset(switches.disabled_strategies),
            daily_anchor=anchor,
            reservations=self.reservations(),
            orders_in_rate_window=orders_in_rate_window,
            executions_in_window=executions_in_window,
            duplicate_of=duplicate_of,
        )

    def reservations(self) -> tuple[Reservation, ...]:
        """The open reservations, oldest first; the same tuple until one changes."""
        reservations = self._reservations
        if reservations is None:
            reservations = tuple([held.reservation for held in self._held.values()])
            self._reservations = reservations
        return reservations

    def reserve(self, reservation: Reservation, quantity: Decimal) -> None:
        self._held[reservation.client_order_id] = Held(reservation, quantity)
        self._reservations = None

    def fill(self, client_order_id: str, filled: Decimal) -> Decimal | None:
        """Shrink the reservation to what is unfilled; returns what remains, None if not held."""
        held = self._held.get(client_order_id)
        if held is None:
            return None
        remaining = max(min(held.reservation.remaining, held.quantity - filled), ZERO)
        if remaining > 0:
            held.reservation = replace(held.reservation, remaining=remaining)
        else:
            del self._held[client_order_id]
        self._reservations = None
        return remaining

    def release(self, client_order_id: str) -> bool:
        released = self._held.pop(client_order_id, None) is not None
        if released:
            self._reservations = None
        return released
