"""Risk state in the database: switches, reservations, decisions, and the lock around them.

Check-and-reserve must be atomic across threads AND processes, or two orders
checked at once could each see room for themselves and together break a limit.
The store therefore opens every such transaction with a write lock: BEGIN
IMMEDIATE on SQLite (one writer per database), SELECT ... FOR UPDATE of the
scope's lock row on PostgreSQL (one checker per scope).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantgate.core.enums import Bucket, OrderType, Side
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.decision import DailyAnchor, Reservation, RiskDecision, RiskSnapshot
from quantgate.storage.models import (
    RiskGateDecisionRow,
    RiskReservationRow,
    RiskStateEventRow,
    RiskStateRow,
)

LOCK = "lock"
KILL_SWITCH = "kill_switch"
DAILY_LOSS = "daily_loss"
DAILY_ANCHOR = "daily_anchor"
STRATEGY_DISABLED = "strategy_disabled"
GLOBAL_KEY = ""  # the key of scope-wide state


def decimal_text(value: Decimal) -> str:
    """Canonical text: 1.0 and 1.00 compare equal as text; NaN is kept to be recorded."""
    return format(value.normalize(), "f") if value.is_finite() else str(value)


def own_price(order: Order) -> Decimal | None:
    if order.order_type is OrderType.LIMIT:
        return order.limit_price
    if order.order_type is OrderType.STOP:
        return order.stop_price
    return None


@dataclass(frozen=True, slots=True)
class StateChange:
    kind: str
    key: str
    active: bool
    action: str
    actor: str
    reason: str
    value: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Switches:
    kill_switch: bool
    daily_loss_latched: bool
    disabled_strategies: dict[str, str]  # strategy -> why
    daily_anchor: DailyAnchor | None


@dataclass(frozen=True, slots=True)
class RiskStatus:
    """What an operator sees: the switches and the exposure held by open orders."""

    kill_switch: bool
    daily_loss_latched: bool
    disabled_strategies: dict[str, str]
    daily_anchor: DailyAnchor | None
    reservations: tuple[Reservation, ...]


@dataclass(frozen=True, slots=True)
class RiskEvent:
    kind: str
    key: str
    action: str
    actor: str
    reason: str
    detail: dict[str, Any]
    at: datetime


class RiskStateStore:
    def __init__(self, engine: Engine, scope: str) -> None:
        self.engine = engine
        self.scope = scope
        self._sqlite = engine.dialect.name == "sqlite"
        self._ensure_lock_row()

    # -- locking ---------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction. On SQLite it takes the write lock before the first read:
        pysqlite begins DEFERRED, and a read transaction that later writes after another
        connection committed fails at once (SQLITE_BUSY_SNAPSHOT) instead of waiting."""
        with Session(self.engine) as session, session.begin():
            if self._sqlite:
                session.execute(text("BEGIN IMMEDIATE"))
            yield session

    @contextmanager
    def locked(self) -> Iterator[Session]:
        """A transaction that holds the scope's write lock until it commits or rolls back."""
        with self.writing() as session:
            if not self._sqlite:  # SQLite: BEGIN IMMEDIATE already allows one writer only
                session.execute(
                    select(RiskStateRow)
                    .where(
                        RiskStateRow.scope == self.scope,
                        RiskStateRow.kind == LOCK,
                        RiskStateRow.key == GLOBAL_KEY,
                    )
                    .with_for_update()
                )
            yield session

    def _ensure_lock_row(self) -> None:
        try:
            with self.writing() as session:
                if session.get(RiskStateRow, (self.scope, LOCK, GLOBAL_KEY)) is None:
                    session.add(
                        RiskStateRow(
                            scope=self.scope,
                            kind=LOCK,
                            key=GLOBAL_KEY,
                            active=False,
                            value={},
                            updated_at=datetime.now(UTC),
                        )
                    )
        except IntegrityError:
            # Another process created it between our read and our insert: nothing to do.
            return

    # -- reading ---------------------------------------------------------------------------

    def snapshot(
        self, session: Session, order: Order, now: datetime, limits: RiskLimits
    ) -> RiskSnapshot:
        switches = self.switches(session)
        return RiskSnapshot(
            now=now,
            kill_switch=switches.kill_switch,
            daily_loss_latched=switches.daily_loss_latched,
            disabled_strategies=frozenset(switches.disabled_strategies),
            daily_anchor=switches.daily_anchor,
            reservations=self._open_reservations(session),
            orders_in_rate_window=self._allowed_since(
                session, now - timedelta(seconds=limits.order_rate_window_seconds)
            ),
            executions_in_window=self._allowed_since(
                session,
                now - timedelta(seconds=limits.execution_window_seconds),
                strategy=order.strategy,
                symbol=order.instrument.symbol,
            ),
            duplicate_of=self._duplicate_of(
                session, order, now - timedelta(seconds=limits.duplicate_window_seconds)
            ),
        )

    def switches(self, session: Session) -> Switches:
        rows = session.scalars(select(RiskStateRow).where(RiskStateRow.scope == self.scope))
        states = {(row.kind, row.key): row for row in rows}
        return Switches(
            kill_switch=_active(states, KILL_SWITCH),
            daily_loss_latched=_active(states, DAILY_LOSS),
            disabled_strategies={
                key: row.reason or ""
                for (kind, key), row in states.items()
                if kind == STRATEGY_DISABLED and row.active
            },
            daily_anchor=_anchor(states.get((DAILY_ANCHOR, GLOBAL_KEY))),
        )

    def status(self) -> RiskStatus:
        with Session(self.engine) as session:
            switches = self.switches(session)
            return RiskStatus(
                kill_switch=switches.kill_switch,
                daily_loss_latched=switches.daily_loss_latched,
                disabled_strategies=switches.disabled_strategies,
                daily_anchor=switches.daily_anchor,
                reservations=self._open_reservations(session),
            )

    def events(self) -> list[RiskEvent]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(RiskStateEventRow)
                .where(RiskStateEventRow.scope == self.scope)
                .order_by(RiskStateEventRow.id)
            )
            return [
                RiskEvent(r.kind, r.key, r.action, r.actor, r.reason, dict(r.detail), r.at)
                for r in rows
            ]

    def _open_reservations(self, session: Session) -> tuple[Reservation, ...]:
        rows = session.scalars(
            select(RiskReservationRow).where(
                RiskReservationRow.scope == self.scope, RiskReservationRow.open.is_(True)
            )
        )
        return tuple(
            Reservation(
                client_order_id=row.client_order_id,
                strategy=row.strategy,
                symbol=row.symbol,
                bucket=Bucket(row.bucket),
                side=Side(row.side),
                remaining=row.remaining,
                price=row.price,
            )
            for row in rows
        )

    def _allowed_since(
        self,
        session: Session,
        since: datetime,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
    ) -> int:
        query = select(func.count()).where(
            RiskGateDecisionRow.scope == self.scope,
            RiskGateDecisionRow.decision == "allowed",
            RiskGateDecisionRow.decided_at > since,
        )
        if strategy is not None:
            query = query.where(RiskGateDecisionRow.strategy == strategy)
        if symbol is not None:
            query = query.where(RiskGateDecisionRow.symbol == symbol)
        return int(session.scalar(query) or 0)

    def _duplicate_of(self, session: Session, order: Order, since: datetime) -> str | None:
        """An allowed decision for the same id ever, or for the same order content lately."""
        same_content = [
            RiskGateDecisionRow.decided_at > since,
            RiskGateDecisionRow.strategy == order.strategy,
            RiskGateDecisionRow.symbol == order.instrument.symbol,
            RiskGateDecisionRow.side == order.side.value,
            RiskGateDecisionRow.order_type == order.order_type.value,
            RiskGateDecisionRow.quantity == decimal_text(order.quantity),
        ]
        price = own_price(order)
        if price is not None:
            same_content.append(RiskGateDecisionRow.price == decimal_text(price))
        query = (
            select(RiskGateDecisionRow.client_order_id)
            .where(
                RiskGateDecisionRow.scope == self.scope,
                RiskGateDecisionRow.decision == "allowed",
                or_(
                    RiskGateDecisionRow.client_order_id == order.client_order_id,
                    and_(*same_content),
                ),
            )
            .limit(1)
        )
        return session.scalar(query)

    # -- writing ---------------------------------------------------------------------------

    def record_decision(
        self, session: Session, order: Order, decision: RiskDecision, price: Decimal | None
    ) -> None:
        session.add(
            RiskGateDecisionRow(
                scope=self.scope,
                mode=order.mode.value,
                client_order_id=order.client_order_id,
                strategy=order.strategy,
                symbol=order.instrument.symbol,
                side=order.side.value,
                order_type=order.order_type.value,
                quantity=decimal_text(order.quantity),
                price=None if price is None else decimal_text(price),
                decision=decision.verdict.value,
                reason=None if decision.reason is None else decision.reason.value,
                detail=dict(decision.detail),
                decided_at=decision.decided_at,
            )
        )

    def reserve(self, session: Session, order: Order, price: Decimal, now: datetime) -> None:
        session.add(
            RiskReservationRow(
                client_order_id=order.client_order_id,
                scope=self.scope,
                strategy=order.strategy,
                symbol=order.instrument.symbol,
                bucket=order.instrument.bucket.value,
                side=order.side.value,
                quantity=order.quantity,
                remaining=order.quantity,
                open=True,
                price=price,
                created_at=now,
                updated_at=now,
            )
        )

    def change(self, session: Session, change: StateChange, now: datetime) -> None:
        """Set one piece of state and write the audit event for it, in the caller's transaction."""
        row = session.get(RiskStateRow, (self.scope, change.kind, change.key))
        if row is None:
            row = RiskStateRow(scope=self.scope, kind=change.kind, key=change.key)
            session.add(row)
        row.active = change.active
        row.value = dict(change.value)
        row.reason = change.reason
        row.actor = change.actor
        row.updated_at = now
        session.add(
            RiskStateEventRow(
                scope=self.scope,
                kind=change.kind,
                key=change.key,
                action=change.action,
                actor=change.actor,
                reason=change.reason,
                detail=dict(change.value),
                at=now,
            )
        )

    def save_anchor(self, session: Session, anchor: DailyAnchor | None, now: datetime) -> None:
        """The anchor is bookkeeping, not a decision by anyone: no audit event."""
        row = session.get(RiskStateRow, (self.scope, DAILY_ANCHOR, GLOBAL_KEY))
        if row is None:
            row = RiskStateRow(scope=self.scope, kind=DAILY_ANCHOR, key=GLOBAL_KEY, reason=None)
            session.add(row)
        row.active = anchor is not None
        row.value = (
            {} if anchor is None else {"day": anchor.day.isoformat(), "equity": str(anchor.equity)}
        )
        row.actor = "risk_gate"
        row.updated_at = now

    def set_filled(self, client_order_id: str, filled: Decimal, now: datetime) -> None:
        """Shrink the reservation to what is still unfilled; cumulative and idempotent."""
        with self.writing() as session:
            row = session.get(RiskReservationRow, client_order_id)
            if row is None or not row.open:
                return
            remaining = max(min(row.remaining, row.quantity - filled), Decimal(0))
            row.remaining, row.open, row.updated_at = remaining, remaining > 0, now

    def release(self, client_order_id: str, now: datetime) -> None:
        """The order ended (filled, cancelled, rejected): it holds no exposure any more."""
        with self.writing() as session:
            row = session.get(RiskReservationRow, client_order_id)
            if row is None or not row.open:
                return
            row.remaining, row.open, row.updated_at = Decimal(0), False, now


def _active(states: dict[tuple[str, str], RiskStateRow], kind: str) -> bool:
    row = states.get((kind, GLOBAL_KEY))
    return row is not None and row.active


def _anchor(row: RiskStateRow | None) -> DailyAnchor | None:
    if row is None or not row.active or not row.value:
        return None
    return DailyAnchor(date.fromisoformat(row.value["day"]), Decimal(row.value["equity"]))
