"""The risk state a check reads, kept in memory: switches, open reservations, and the
allowed decisions the throttles count.

`RiskStateStore` loads it from the database and keeps it in step with what it writes,
so a check costs no query; the ledger's version of the risk rows tells the store when
someone else wrote and it must load again. Counts are over allowed decisions within
the throttles' windows; decisions older than the longest window are dropped as the
clock moves on (a clock stepping back does not bring them back).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import TypeVar

from quantgate.core.enums import Bucket, OrderType, Side
from quantgate.core.order_ids import intent_part
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.decision import DailyAnchor, Reservation, RiskSnapshot

ZERO = Decimal(0)

# (strategy, symbol, side, order type, quantity text, own price text): what makes two
# orders the same order; a market order has no price of its own.
ContentKey = tuple[str, str, str, str, str, str | None]
# Where the order rate, execution and duplicate windows start.
WindowStarts = tuple[datetime, datetime, datetime]


def decimal_text(value: Decimal) -> str:
    """Canonical text: 1.0 and 1.00 compare equal as text; NaN is kept to be recorded."""
    return format(value.normalize(), "f") if value.is_finite() else str(value)


E = TypeVar("E", bound=Enum)


def value_texts(enum: type[E]) -> Mapping[E, str]:
    """Each member's value by member: an enum member's .value is a property call, and the
    hot paths take several per order."""
    return {member: member.value for member in enum}


SIDE_TEXT = value_texts(Side)
ORDER_TYPE_TEXT = value_texts(OrderType)
_PRICED_TYPES = frozenset({ORDER_TYPE_TEXT[OrderType.LIMIT], ORDER_TYPE_TEXT[OrderType.STOP]})
_LIMIT = OrderType.LIMIT


def content_key(
    strategy: str, symbol: str, side: str, order_type: str, quantity: str, price: str | None
) -> ContentKey:
    own = price if order_type in _PRICED_TYPES else None
    return (strategy, symbol, side, order_type, quantity, own)


def order_content(order: Order, quantity_text: str | None = None) -> ContentKey:
    """`quantity_text`: `decimal_text(order.quantity)`, when the caller has it already."""
    price = order.limit_price if order.order_type is _LIMIT else order.stop_price
    return content_key(
        order.strategy,
        order.instrument.symbol,
        SIDE_TEXT[order.side],
        ORDER_TYPE_TEXT[order.order_type],
        decimal_text(order.quantity) if quantity_text is None else quantity_text,
        None if price is None else decimal_text(price),
    )


# Not frozen: one is built for every allowed order, and a frozen dataclass's __init__
# costs four times as much. Only `AllowedHistory` keeps them, and it never changes one.
@dataclass(slots=True)
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
    # Strategy -> when a person last enabled it: the repeated-execution throttle counts its
    # orders from then on, not over the whole window (the orders that tripped it were looked
    # at, and counting them again disabled it at its next order).
    executions_counted_from: dict[str, datetime] = field(default_factory=dict)


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
        if sequence >= self.next_sequence:
            self.next_sequence = sequence + 1

    def add(self, decision: AllowedDecision) -> None:
        self.remember_id(decision.client_order_id, decision.sequence)
        at = decision.decided_at
        times = self._times
        if times and at < times[-1]:  # decided before the latest: a clock that stepped back
            index = bisect_right(times, at)
            times.insert(index, at)
            self._recent.insert(index, decision)
        else:  # where bisect_right would put it, without the search
            times.append(at)
            self._recent.append(decision)
        pair = (decision.strategy, decision.symbol)
        pair_times = self._by_pair.get(pair)
        if pair_times is None:
            self._by_pair[pair] = [at]
        else:
            insort(pair_times, at)
        same_content = self._by_content.get(decision.content)
        if same_content is None:
            self._by_content[decision.content] = [decision]
        else:
            insort(same_content, decision, key=_stored_order)

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

    def count_pair_from(self, start: datetime, strategy: str, symbol: str) -> int:
        """Like `count_pair_since`, but counting decisions made at `start` itself too."""
        times = self._by_pair.get((strategy, symbol))
        return len(times) - bisect_left(times, start) if times else 0

    def duplicate_of(self, order: Order, since: datetime) -> str | None:
        """An allowed decision for the same id ever, or for the same content after `since`
        but not from a slice of the same intent (see `intent_part`); the first stored when
        several are."""
        pair_times = self._by_pair.get((order.strategy, order.instrument.symbol))
        return self._duplicate_of(order, since, pair_times)

    def throttle_figures(
        self, order: Order, rate_since: datetime, pair_since: datetime, duplicate_since: datetime
    ) -> tuple[int, int, str | None]:
        """`count_since(rate_since)`, `count_pair_since(pair_since, ...)` for the order's
        strategy and symbol, and `duplicate_of(order, duplicate_since)`, in one call."""
        times = self._times
        pair_times = self._by_pair.get((order.strategy, order.instrument.symbol))
        return (
            len(times) - bisect_right(times, rate_since),  # count_since(rate_since)
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
        intent = intent_part(order.client_order_id) if start < len(decisions) else None
        for decision in decisions[start:]:
            # A plan's slices are the same order by design (a TWAP cuts equal slices at one
            # limit): a sibling is no duplicate, the same content from another intent is.
            if intent is not None and intent_part(decision.client_order_id) == intent:
                continue
            if found is None or decision.sequence < found[0]:
                found = (decision.sequence, decision.client_order_id)
        return None if found is None else found[1]


def _count_after(times: list[datetime] | None, since: datetime) -> int:
    return len(times) - bisect_right(times, since) if times else 0


def _decided_at(decision: AllowedDecision) -> datetime:
    return decision.decided_at


def _stored_order(decision: AllowedDecision) -> tuple[datetime, int]:
    return decision.decided_at, decision.sequence


# Not frozen: a fill shrinks `remaining` in place. Building a frozen Reservation for every
# order and every partial fill cost more than the checks that read it.
@dataclass(slots=True)
class Held:
    """An open reservation as the memory keeps it, with the quantity it was made for."""

    client_order_id: str
    strategy: str
    symbol: str
    bucket: Bucket
    side: Side
    remaining: Decimal
    price: Decimal
    quantity: Decimal

    def reservation(self) -> Reservation:
        """As it stands now, for whoever keeps it: a fill does not change a Reservation."""
        return Reservation(
            self.client_order_id,
            self.strategy,
            self.symbol,
            self.bucket,
            self.side,
            self.remaining,
            self.price,
        )


class RiskMemory:
    """Switches, open reservations and allowed decisions of one scope."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.switches = Switches()
        self._held: dict[str, Held] = {}
        # Read-only: the tuple of what is held below is kept only while `reserve` and
        # `release` (and a fill to the end) are the only ways to change the entries.
        self.held: Mapping[str, Held] = MappingProxyType(self._held)
        self._open: tuple[Held, ...] | None = ()
        self._rate_window = timedelta(seconds=limits.order_rate_window_seconds)
        self._execution_window = timedelta(seconds=limits.execution_window_seconds)
        self._duplicate_window = timedelta(seconds=limits.duplicate_window_seconds)
        keep = max(self._rate_window, self._execution_window, self._duplicate_window)
        self.allowed = AllowedHistory(keep)
        self._window_starts: tuple[datetime, WindowStarts] | None = None

    def snapshot(self, order: Order, now: datetime, anchor: DailyAnchor | None) -> RiskSnapshot:
        """What a check of `order` reads at `now`, with the day's anchor as rolled for it."""
        allowed, switches = self.allowed, self.switches
        allowed.forget_before(now)
        starts = self.window_starts(now)
        orders_in_rate_window, executions_in_window, duplicate_of = allowed.throttle_figures(
            order, *starts
        )
        counted_from = switches.executions_counted_from.get(order.strategy)
        if counted_from is not None and counted_from > starts[1]:
            # Enabled within the window: count from then, an order decided at that very time
            # too (a disabled strategy has no order allowed, so it came after the enabling).
            executions_in_window = allowed.count_pair_from(
                counted_from, order.strategy, order.instrument.symbol
            )
        # Positional, in field order: keywords cost as much again as the fields themselves.
        return RiskSnapshot(
            now,
            switches.kill_switch,
            switches.daily_loss_latched,
            frozenset(switches.disabled_strategies),
            anchor,
            self.open_reservations(),
            orders_in_rate_window,
            executions_in_window,
            duplicate_of,
        )

    def window_starts(self, now: datetime) -> WindowStarts:
        """Where the order rate, execution and duplicate windows that end at `now` start.
        Kept for the last `now`: the orders of one event are all checked at the same time."""
        kept = self._window_starts
        if kept is not None and kept[0] is now:
            return kept[1]
        starts = (
            now - self._rate_window,
            now - self._execution_window,
            now - self._duplicate_window,
        )
        self._window_starts = (now, starts)
        return starts

    def open_reservations(self) -> tuple[Held, ...]:
        """What is held, oldest first, as the checks read it: live records, the same tuple
        until one is added or ends (a partial fill changes its record in place)."""
        held = self._open
        if held is None:
            held = self._open = tuple(self._held.values())
        return held

    def reservations(self) -> tuple[Reservation, ...]:
        """The open reservations, oldest first, as they stand now."""
        return tuple([held.reservation() for held in self._held.values()])

    def reserve(self, held: Held) -> None:
        self._held[held.client_order_id] = held
        self._open = None

    def fill(self, client_order_id: str, filled: Decimal) -> Decimal | None:
        """Shrink the reservation to what is unfilled; returns what remains, None if not held."""
        held = self._held.get(client_order_id)
        if held is None:
            return None
        remaining = max(min(held.remaining, held.quantity - filled), ZERO)
        if remaining > ZERO:
            held.remaining = remaining
        else:
            del self._held[client_order_id]
            self._open = None
        return remaining

    def release(self, client_order_id: str) -> bool:
        released = self._held.pop(client_order_id, None) is not None
        if released:
            self._open = None
        return released
