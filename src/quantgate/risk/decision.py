"""The gate's answer, and the state it was reached from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from quantgate.core.enums import Bucket, DenyReason, Side


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    client_order_id: str
    verdict: Verdict
    reason: DenyReason | None
    detail: Mapping[str, Any]
    decided_at: datetime

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


class Effect(StrEnum):
    """State a denial changes besides being recorded."""

    LATCH_DAILY_LOSS = "latch_daily_loss"
    DISABLE_STRATEGY = "disable_strategy"


@dataclass(frozen=True, slots=True)
class Denial:
    reason: DenyReason
    detail: Mapping[str, Any] = field(default_factory=dict)
    effect: Effect | None = None


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


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The persisted state one check reads, loaded under the gate's lock."""

    now: datetime
    kill_switch: bool
    daily_loss_latched: bool
    disabled_strategies: frozenset[str]
    daily_anchor: DailyAnchor | None
    reservations: tuple[Reservation, ...]
    orders_in_rate_window: int
    executions_in_window: int
    duplicate_of: str | None
