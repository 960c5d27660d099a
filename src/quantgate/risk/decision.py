"""The gate's answer, and the state it was reached from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from quantgate.core.enums import Bucket, DenyReason, Side
from quantgate.core.slots import slot_init


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


_ALLOWED = Verdict.ALLOWED  # a member looked up on its enum class costs a slow attribute lookup


@slot_init  # the gate answers every order with one
@dataclass(frozen=True, slots=True)
class RiskDecision:
    client_order_id: str
    verdict: Verdict
    reason: DenyReason | None
    detail: Mapping[str, Any]
    decided_at: datetime

    @property
    def allowed(self) -> bool:
        return self.verdict is _ALLOWED


class Effect(StrEnum):
    """State a denial changes besides being recorded."""

    LATCH_DAILY_LOSS = "latch_daily_loss"
    DISABLE_STRATEGY = "disable_strategy"


@slot_init
@dataclass(frozen=True, slots=True)
class Denial:
    reason: DenyReason
    detail: Mapping[str, Any] = field(default_factory=dict)
    effect: Effect | None = None


class Reserved(Protocol):
    """What a check reads of a reservation: a `Reservation`, or the record the gate's memory
    keeps of one (`quantgate.risk.memory.Held`)."""

    @property
    def symbol(self) -> str: ...

    @property
    def bucket(self) -> Bucket: ...

    @property
    def side(self) -> Side: ...

    @property
    def remaining(self) -> Decimal: ...

    @property
    def price(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Reservation:
    """An allowed order's unfilled quantity, which counts toward the limits until it ends."""

    client_order_id: str
    strategy: str
    symbol: str
    bucket: Bucket
    side: Side
    remaining: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class DailyAnchor:
    """The first equity seen on a UTC day; the day's loss is measured from it."""

    day: date
    equity: Decimal


# Not frozen: one is built for every order, and a frozen dataclass's __init__ costs five
# times as much; nothing keeps one beyond the check it was built for.
@dataclass(slots=True)
class RiskSnapshot:
    """The persisted state one check reads, loaded under the gate's lock."""

    now: datetime
    kill_switch: bool
    daily_loss_latched: bool
    disabled_strategies: frozenset[str]
    daily_anchor: DailyAnchor | None
    reservations: tuple[Reserved, ...]
    orders_in_rate_window: int
    executions_in_window: int
    duplicate_of: str | None
