"""Risk state in the database: switches, reservations, decisions and their audit trail.

Check-and-reserve must be atomic across threads AND processes, or two orders checked
at once could each see room for themselves and together break a limit. Everything
here therefore runs inside a unit of work of the scope's ledger, which holds the
scope's write lock (see `quantgate.storage.ledger`). What a check reads comes from
`RiskMemory`, loaded once and kept in step with every write made here; the writes are
queued and flushed with the unit, as one executemany per table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update

from quantgate.core.enums import Bucket, DenyReason, Mode, OrderType, Side
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.decision import DailyAnchor, Reservation, RiskDecision, Verdict
from quantgate.risk.memory import (
    ORDER_TYPE_TEXT,
    SIDE_TEXT,
    ZERO,
    AllowedDecision,
    Held,
    RiskMemory,
    content_key,
    decimal_text,
    order_content,
    value_texts,
)
from quantgate.storage.bulk import BulkStatement
from quantgate.storage.ledger import (
    SCOPE_KEY,
    ScopeLedger,
    UnitOfWork,
    dialect_insert,
    table_of,
)
from quantgate.storage.models import (
    RiskGateDecisionRow,
    RiskReservationRow,
    RiskStateEventRow,
    RiskStateRow,
)

KILL_SWITCH = "kill_switch"
DAILY_LOSS = "daily_loss"
DAILY_ANCHOR = "daily_anchor"
STRATEGY_DISABLED = "strategy_disabled"
# In an enabled strategy's row: when it was enabled (the throttle counts from then).
ENABLED_AT = "enabled_at"
GLOBAL_KEY = SCOPE_KEY
GATE_ACTOR = "risk_gate"

# The ledger's version of the rows below: a store whose memory has another reloads it.
RISK_CACHE = "risk"

_MODE_TEXT = value_texts(Mode)
_BUCKET_TEXT = value_texts(Bucket)
_VERDICT_TEXT = value_texts(Verdict)
_REASON_TEXT = value_texts(DenyReason)

_DECISIONS = table_of(RiskGateDecisionRow)
_RESERVATIONS = table_of(RiskReservationRow)
_STATE = table_of(RiskStateRow)
_EVENTS = table_of(RiskStateEventRow)
_DECISION_KEYS = (
    "scope",
    "mode",
    "client_order_id",
    "strategy",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "decision",
    "reason",
    "detail",
    "decided_at",
)
_RESERVATION_KEYS = (
    "client_order_id",
    "scope",
    "strategy",
    "symbol",
    "bucket",
    "side",
    "quantity",
    "remaining",
    "open",
    "price",
    "created_at",
    "updated_at",
)
_RESERVATION_CHANGES = ("remaining", "open", "updated_at")
_INSERT_DECISIONS = BulkStatement(_DECISIONS.insert(), _DECISION_KEYS, _DECISIONS)
_INSERT_RESERVATIONS = BulkStatement(_RESERVATIONS.insert(), _RESERVATION_KEYS, _RESERVATIONS)
_RESERVATION_UPDATE = BulkStatement(
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.client_order_id == bindparam("b_client_order_id"))
    .values({name: bindparam(f"b_{name}") for name in _RESERVATION_CHANGES}),
    ("b_client_order_id", *(f"b_{name}" for name in _RESERVATION_CHANGES)),
    _RESERVATIONS,
    type_of={f"b_{name}": name for name in ("client_order_id", *_RESERVATION_CHANGES)},
)

__all__ = [
    "DAILY_ANCHOR",
    "DAILY_LOSS",
    "GATE_ACTOR",
    "GLOBAL_KEY",
    "KILL_SWITCH",
    "STRATEGY_DISABLED",
    "RiskEvent",
    "RiskStateStore",
    "RiskStatus",
    "StateChange",
    "decimal_text",
    "own_price",
]


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
    def __init__(self, ledger: ScopeLedger, limits: RiskLimits) -> None:
        self.ledger = ledger
        self.scope = ledger.scope
        self._limits = limits
        self._memory: RiskMemory | None = None
        self._version = -1
        # The unit the memory was last stamped in. A unit bumps a cache's version once, at
        # its first change there, so from the stamp to the unit's end the memory is current
        # and stamping again would change nothing: the per-order calls skip both.
        self._stamped: UnitOfWork | None = None
        self._decisions: list[tuple[Any, ...]] = []
        # Reservations not yet written, as their columns (changed in place until the flush).
        self._new_reservations: dict[str, list[Any]] = {}
        self._changed_reservations: dict[str, tuple[Any, ...]] = {}
        self._anchor: dict[str, Any] | None = None

    # -- reading ---------------------------------------------------------------------------

    def memory(self, unit: UnitOfWork, now: datetime) -> RiskMemory:
        """The scope's risk state, loaded again when someone else wrote since."""
        memory = self._memory
        if unit is self._stamped and memory is not None:
            return memory
        if memory is None or self._version != unit.version(RISK_CACHE):
            memory = self._memory = self._load(unit, now)
            self._version = unit.version(RISK_CACHE)
        return memory

    def status(self, unit: UnitOfWork, now: datetime) -> RiskStatus:
        memory = self.memory(unit, now)
        switches = memory.switches
        return RiskStatus(
            kill_switch=switches.kill_switch,
            daily_loss_latched=switches.daily_loss_latched,
            disabled_strategies=dict(switches.disabled_strategies),
            daily_anchor=switches.daily_anchor,
            reservations=memory.reservations(),
        )

    def events(self, unit: UnitOfWork) -> list[RiskEvent]:
        rows = unit.execute(
            select(_EVENTS).where(_EVENTS.c.scope == self.scope).order_by(_EVENTS.c.id)
        )
        return [
            RiskEvent(r.kind, r.key, r.action, r.actor, r.reason, dict(r.detail), r.at)
            for r in rows
        ]

    def _load(self, unit: UnitOfWork, now: datetime) -> RiskMemory:
        memory = RiskMemory(self._limits)
        switches = memory.switches
        states = unit.execute(select(_STATE).where(_STATE.c.scope == self.scope)).all()
        for row in states:
            if row.key == GLOBAL_KEY and row.kind == KILL_SWITCH:
                switches.kill_switch = bool(row.active)
            elif row.key == GLOBAL_KEY and row.kind == DAILY_LOSS:
                switches.daily_loss_latched = bool(row.active)
            elif row.key == GLOBAL_KEY and row.kind == DAILY_ANCHOR:
                switches.daily_anchor = _anchor(row.active, row.value)
            elif row.kind == STRATEGY_DISABLED and row.active:
                switches.disabled_strategies[row.key] = row.reason or ""
            elif row.kind == STRATEGY_DISABLED:
                switches.executions_counted_from[row.key] = _enabled_at(row.value, row.updated_at)
        reservations = unit.execute(
            select(_RESERVATIONS).where(
                _RESERVATIONS.c.scope == self.scope, _RESERVATIONS.c.open.is_(True)
            )
        )
        for row in reservations:
            memory.reserve(
                Held(
                    client_order_id=row.client_order_id,
                    strategy=row.strategy,
                    symbol=row.symbol,
                    bucket=Bucket(row.bucket),
                    side=Side(row.side),
                    remaining=row.remaining,
                    price=row.price,
                    quantity=row.quantity,
                )
            )
        self._load_allowed(unit, memory, now)
        return memory

    def _load_allowed(self, unit: UnitOfWork, memory: RiskMemory, now: datetime) -> None:
        allowed = (_DECISIONS.c.scope == self.scope, _DECISIONS.c.decision == "allowed")
        ids = unit.execute(select(_DECISIONS.c.id, _DECISIONS.c.client_order_id).where(*allowed))
        for row in ids:
            memory.allowed.remember_id(row.client_order_id, row.id)
        limits = self._limits
        keep = max(
            limits.order_rate_window_seconds,
            limits.execution_window_seconds,
            limits.duplicate_window_seconds,
        )
        recent = unit.execute(
            select(_DECISIONS)
            .where(*allowed, _DECISIONS.c.decided_at > now - timedelta(seconds=keep))
            .order_by(_DECISIONS.c.id)
        )
        for row in recent:
            memory.allowed.add(
                AllowedDecision(
                    sequence=row.id,
                    client_order_id=row.client_order_id,
                    strategy=row.strategy,
                    symbol=row.symbol,
                    content=content_key(
                        row.strategy, row.symbol, row.side, row.order_type, row.quantity, row.price
                    ),
                    decided_at=row.decided_at,
                )
            )

    # -- writing ---------------------------------------------------------------------------

    def record_decision(
        self,
        unit: UnitOfWork,
        order: Order,
        decision: RiskDecision,
        price: Decimal | None,
    ) -> None:
        memory = self._touch(unit, decision.decided_at, rows=1)
        quantity = self._queue_decision(order, decision, price)
        if decision.allowed:
            self._remember_allowed(memory, order, quantity, decision.decided_at)

    def reserve(self, unit: UnitOfWork, order: Order, price: Decimal, now: datetime) -> None:
        memory = self._touch(unit, now, rows=1)
        self._reserve(memory, order, price, now)

    def record_allowed(
        self, unit: UnitOfWork, order: Order, decision: RiskDecision, price: Decimal
    ) -> None:
        """`reserve`, then `record_decision`, for an allowed decision: one stamp for both.
        `price` is the price the order was judged at, which its reservation keeps; the
        decision's row keeps the order's own limit or stop price, as a denial's does,
        because a reload rebuilds the duplicate check's content from it."""
        now = decision.decided_at
        memory = self._touch(unit, now, 2)
        self._reserve(memory, order, price, now)
        own = own_price(order)
        quantity = self._queue_decision(order, decision, price if own is None else own)
        self._remember_allowed(memory, order, quantity, now)

    def _queue_decision(self, order: Order, decision: RiskDecision, price: Decimal | None) -> str:
        """Queue the decision's row; returns the order's quantity as the row has it."""
        quantity = decimal_text(order.quantity)
        self._decisions.append(
            (
                self.scope,
                _MODE_TEXT[order.mode],
                order.client_order_id,
                order.strategy,
                order.instrument.symbol,
                SIDE_TEXT[order.side],
                ORDER_TYPE_TEXT[order.order_type],
                quantity,
                None if price is None else decimal_text(price),
                _VERDICT_TEXT[decision.verdict],
                None if decision.reason is None else _REASON_TEXT[decision.reason],
                dict(decision.detail),
                decision.decided_at,
            )
        )
        return quantity

    @staticmethod
    def _remember_allowed(
        memory: RiskMemory, order: Order, quantity_text: str, decided_at: datetime
    ) -> None:
        allowed = memory.allowed
        content = order_content(order, quantity_text)
        cid, strategy, symbol = order.client_order_id, order.strategy, order.instrument.symbol
        # Positional, in field order: keywords cost as much again as the fields themselves.
        allowed.add(
            AllowedDecision(allowed.next_sequence, cid, strategy, symbol, content, decided_at)
        )

    def _reserve(self, memory: RiskMemory, order: Order, price: Decimal, now: datetime) -> None:
        cid, strategy, side = order.client_order_id, order.strategy, order.side
        symbol, bucket, quantity = order.instrument.symbol, order.instrument.bucket, order.quantity
        # Positional, in field order (remaining, price, then the quantity reserved): keywords
        # cost as much again as the fields themselves.
        memory.reserve(Held(cid, strategy, symbol, bucket, side, quantity, price, quantity))
        self._new_reservations[cid] = [
            cid,
            self.scope,
            strategy,
            symbol,
            _BUCKET_TEXT[bucket],
            SIDE_TEXT[side],
            quantity,
            quantity,
            True,
            price,
            now,
            now,
        ]

    def set_filled(
        self, unit: UnitOfWork, client_order_id: str, filled: Decimal, now: datetime
    ) -> None:
        """Shrink the reservation to what is still unfilled; cumulative and idempotent."""
        memory = self.memory(unit, now)
        if client_order_id not in memory.held:
            return
        self._stamp(unit)
        remaining = memory.fill(client_order_id, filled)
        assert remaining is not None
        self._change_reservation(unit, client_order_id, remaining, now)

    def release(self, unit: UnitOfWork, client_order_id: str, now: datetime) -> None:
        """The order ended (filled, cancelled, rejected): it holds no exposure any more."""
        memory = self.memory(unit, now)
        if client_order_id not in memory.held:
            return
        self._stamp(unit)
        memory.release(client_order_id)
        self._change_reservation(unit, client_order_id, ZERO, now)

    def change(self, unit: UnitOfWork, change: StateChange, now: datetime) -> None:
        """Set one piece of state and write the audit event for it, in the unit. Written at
        once, and remembered only once written."""
        self.memory(unit, now)
        value = dict(change.value)
        if change.kind == STRATEGY_DISABLED and not change.active:
            # Kept with the row, so a restarted gate counts from the same time.
            value[ENABLED_AT] = now.isoformat()
        values = {
            "active": change.active,
            "value": value,
            "reason": change.reason,
            "actor": change.actor,
            "updated_at": now,
        }
        insert = dialect_insert(unit.connection, _STATE)
        unit.execute(
            insert.values(
                scope=self.scope, kind=change.kind, key=change.key, **values
            ).on_conflict_do_update(index_elements=["scope", "kind", "key"], set_=values)
        )
        unit.execute(
            _EVENTS.insert().values(
                scope=self.scope,
                kind=change.kind,
                key=change.key,
                action=change.action,
                actor=change.actor,
                reason=change.reason,
                detail=value,
                at=now,
            )
        )
        switches = self._touch(unit, now).switches
        if change.kind == KILL_SWITCH:
            switches.kill_switch = change.active
        elif change.kind == DAILY_LOSS:
            switches.daily_loss_latched = change.active
        elif change.kind == STRATEGY_DISABLED and change.active:
            switches.disabled_strategies[change.key] = change.reason
            switches.executions_counted_from.pop(change.key, None)
        elif change.kind == STRATEGY_DISABLED:
            switches.disabled_strategies.pop(change.key, None)
            switches.executions_counted_from[change.key] = now

    def save_anchor(self, unit: UnitOfWork, anchor: DailyAnchor | None, now: datetime) -> None:
        """The anchor is bookkeeping, not a decision by anyone: no audit event."""
        self._touch(unit, now, rows=1).switches.daily_anchor = anchor
        self._anchor = {
            "active": anchor is not None,
            "value": {}
            if anchor is None
            else {"day": anchor.day.isoformat(), "equity": str(anchor.equity)},
            "actor": GATE_ACTOR,
            "updated_at": now,
        }

    # -- the unit of work's writer -----------------------------------------------------------

    def flush(self, unit: UnitOfWork) -> None:
        connection = unit.connection
        if self._decisions:
            decisions, self._decisions = self._decisions, []
            _INSERT_DECISIONS.execute(connection, decisions)
        if self._new_reservations:
            rows, self._new_reservations = list(self._new_reservations.values()), {}
            _INSERT_RESERVATIONS.execute(connection, rows)
        if self._changed_reservations:
            changes, self._changed_reservations = list(self._changed_reservations.values()), {}
            _RESERVATION_UPDATE.execute(connection, changes)
        if self._anchor is not None:
            values, self._anchor = self._anchor, None
            insert = dialect_insert(connection, _STATE)
            connection.execute(
                insert.values(
                    scope=self.scope, kind=DAILY_ANCHOR, key=GLOBAL_KEY, **values
                ).on_conflict_do_update(index_elements=["scope", "kind", "key"], set_=values)
            )

    def discard(self) -> None:
        self._decisions = []
        self._new_reservations = {}
        self._changed_reservations = {}
        self._anchor = None
        self._memory, self._version, self._stamped = None, -1, None

    def _touch(self, unit: UnitOfWork, now: datetime, rows: int = 0) -> RiskMemory:
        """This unit changes the risk rows: stamp the memory with the version it commits."""
        memory = self.memory(unit, now)
        self._stamp(unit, rows)
        return memory

    def _stamp(self, unit: UnitOfWork, rows: int = 0) -> None:
        """`_touch` for a memory just read in this unit (nothing was executed since)."""
        if unit is not self._stamped:
            self._version = unit.bump(RISK_CACHE)
            self._stamped = unit
        unit.enlist(self, rows)

    def _change_reservation(
        self, unit: UnitOfWork, client_order_id: str, remaining: Decimal, now: datetime
    ) -> None:
        new = self._new_reservations.get(client_order_id)
        if new is not None:  # not in the database yet: insert it as it is now
            new[_REMAINING], new[_OPEN], new[_UPDATED_AT] = remaining, remaining > 0, now
            return
        self._changed_reservations[client_order_id] = (
            client_order_id,
            remaining,
            remaining > 0,
            now,
        )
        unit.enlist(self, rows=1)


_REMAINING, _OPEN, _UPDATED_AT = (
    _RESERVATION_KEYS.index(name) for name in ("remaining", "open", "updated_at")
)


def _enabled_at(value: Mapping[str, Any] | None, updated_at: datetime) -> datetime:
    """When an enabled strategy was enabled: the time its row keeps, or for a row enabled
    before rows kept it, the row's last write (which was the enabling)."""
    enabled_at = (value or {}).get(ENABLED_AT)
    return updated_at if enabled_at is None else datetime.fromisoformat(enabled_at)


def _anchor(active: bool, value: Mapping[str, Any] | None) -> DailyAnchor | None:
    if not active or not value:
        return None
    return DailyAnchor(date.fromisoformat(value["day"]), Decimal(value["equity"]))
