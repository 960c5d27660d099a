"""The order outbox and the fill ledger in the database.

An order row is written before the order is sent, so a crash at any point leaves a
record that reconciliation can settle. Statuses only move forward (NEW → IN_FLIGHT →
ACCEPTED → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED), so a late or repeated
report can never undo a later one. Fills are unique per (venue, trade id) in the
database itself, so a replayed fill from any thread or process is stored once.

Everything happens inside a unit of work of the scope's ledger. New orders and new
fills are inserted at once, one statement per batch: an order must be in the database
before it is decided on or sent, and a fill must be known new before it is booked.
Order updates and trace rows are queued and flushed with the unit. The scope's order
ids and open orders are mirrored in memory, stamped with the ledger's version of the
order rows, so a new id, a mark or a fill costs no read unless another writer changed
the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from quantgate.core.enums import Mode, OrderStatus, OrderType, Side
from quantgate.core.types import Fill
from quantgate.execution.brokers.base import TimeInForce
from quantgate.execution.costs import CostBreakdown
from quantgate.execution.intent import ChildOrder
from quantgate.execution.trace import TraceEntry
from quantgate.storage.ledger import ScopeLedger, UnitOfWork, insert_ignoring_duplicates, table_of
from quantgate.storage.models import ExecutionTraceRow, FillRow, OrderRow

OPEN_STATUSES = (
    OrderStatus.NEW,
    OrderStatus.IN_FLIGHT,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
)

# The ledger's version of the order and fill rows: a mirror with another one reloads.
ORDERS_CACHE = "orders"

_RANK = {
    OrderStatus.NEW: 0,
    OrderStatus.IN_FLIGHT: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
    OrderStatus.FILLED: 4,
    OrderStatus.CANCELLED: 4,
    OrderStatus.REJECTED: 4,
}

# Money as the database keeps it (NUMERIC(38, 18)), so the mirror equals a reloaded row.
_STORED = Decimal(1).scaleb(-18)

_ORDERS = table_of(OrderRow)
_FILLS = table_of(FillRow)
_TRACE = table_of(ExecutionTraceRow)
# Built once: building a statement costs about as much as executing a small batch.
_INSERT_ORDERS = _ORDERS.insert()
_INSERT_TRACE = _TRACE.insert()
_ORDER_UPDATE = (
    update(_ORDERS)
    .where(_ORDERS.c.client_order_id == bindparam("b_client_order_id"))
    .values(
        status=bindparam("b_status"),
        filled_quantity=bindparam("b_filled_quantity"),
        filled_notional=bindparam("b_filled_notional"),
        fees=bindparam("b_fees"),
        venue_order_id=bindparam("b_venue_order_id"),
        reason=bindparam("b_reason"),
        sent_at=bindparam("b_sent_at"),
        updated_at=bindparam("b_updated_at"),
    )
)


def advances(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether moving from `current` to `new` is progress (terminal states are final)."""
    return not current.is_terminal and _RANK[new] > _RANK[current]


@dataclass(frozen=True, slots=True)
class OutboxOrder:
    client_order_id: str
    scope: str
    mode: Mode
    strategy: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus
    filled_quantity: Decimal
    filled_notional: Decimal
    fees: Decimal
    venue_order_id: str | None
    reason: str | None
    policy: str
    decision_time: datetime
    decision_price: Decimal
    arrival_mid: Decimal | None
    modelled_impact_bps: float
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    updated_at: datetime

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        if self.filled_quantity == 0:
            return None
        return self.filled_notional / self.filled_quantity

    @classmethod
    def of(cls, row: OrderRow | Row[Any]) -> OutboxOrder:
        return cls(
            client_order_id=row.client_order_id,
            scope=row.scope,
            mode=Mode(row.mode),
            strategy=row.strategy,
            venue=row.venue,
            symbol=row.symbol,
            side=Side(row.side),
            order_type=OrderType(row.order_type),
            time_in_force=TimeInForce(row.time_in_force),
            quantity=row.quantity,
            limit_price=row.limit_price,
            stop_price=row.stop_price,
            status=OrderStatus(row.status),
            filled_quantity=row.filled_quantity,
            filled_notional=row.filled_notional,
            fees=row.fees,
            venue_order_id=row.venue_order_id,
            reason=row.reason,
            policy=row.policy,
            decision_time=row.decision_time,
            decision_price=row.decision_price,
            arrival_mid=row.arrival_mid,
            modelled_impact_bps=row.modelled_impact_bps,
            created_at=row.created_at,
            sent_at=row.sent_at,
            expires_at=row.expires_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A child about to be persisted, with what the trace will need of its arrival."""

    child: ChildOrder
    arrival_mid: Decimal | None
    estimate: CostBreakdown


class OrderOutbox:
    def __init__(self, ledger: ScopeLedger) -> None:
        self.ledger = ledger
        self.scope = ledger.scope
        # Every order id of the scope (a new order is checked against it, not the table)
        # and the open orders; both as of the ledger's version `_version`.
        self._ids: set[str] = set()
        self._open: dict[str, OutboxOrder] = {}
        self._version = -1
        self._changed: dict[str, OutboxOrder] = {}
        self._traces: list[dict[str, Any]] = []

    # -- reading ----------------------------------------------------------------------------

    def get(self, client_order_id: str) -> OutboxOrder | None:
        with self.ledger.unit() as unit:
            return self.load(unit, client_order_id)

    def open_orders(self) -> list[OutboxOrder]:
        with self.ledger.unit() as unit:
            return self.open_in(unit)

    def fills(self, client_order_id: str) -> list[Fill]:
        with self.ledger.unit() as unit:
            rows = unit.execute(
                select(_FILLS)
                .where(_FILLS.c.client_order_id == client_order_id)
                .order_by(_FILLS.c.filled_at, _FILLS.c.id)
            )
            return [_fill(row) for row in rows]

    def load(self, unit: UnitOfWork, client_order_id: str) -> OutboxOrder | None:
        self._sync(unit)
        order = self._open.get(client_order_id)
        if order is not None:
            return order
        row = unit.execute(
            select(_ORDERS).where(_ORDERS.c.client_order_id == client_order_id)
        ).one_or_none()
        return None if row is None else OutboxOrder.of(row)

    def open_in(self, unit: UnitOfWork) -> list[OutboxOrder]:
        """The scope's open orders, oldest first."""
        self._sync(unit)
        return sorted(self._open.values(), key=lambda o: (o.created_at, o.client_order_id))

    # -- writing ----------------------------------------------------------------------------

    def insert(
        self, unit: UnitOfWork, orders: Sequence[NewOrder], *, venue: str, now: datetime
    ) -> dict[str, OutboxOrder]:
        """Persist the orders as NEW; returns those stored (an id already stored, or twice
        in `orders`, is stored once)."""
        self._sync(unit)
        fresh: dict[str, tuple[OutboxOrder, dict[str, Any]]] = {}
        for entry in orders:
            cid = entry.child.client_order_id
            if cid not in self._ids and cid not in fresh:
                fresh[cid] = _new_order(entry, self.scope, venue, now)
        if not fresh:
            return {}
        # Executed now, not queued: the order is in the database before anyone decides on
        # it or sends it. No queued write touches these rows, so nothing is flushed first.
        # The ids are known to be new (the mirror holds every id of the scope); the
        # primary key would refuse a repeat all the same.
        unit.connection.execute(_INSERT_ORDERS, [row for _, row in fresh.values()])
        self._touch(unit)
        for cid, (order, _) in fresh.items():
            self._ids.add(cid)
            self._open[cid] = order
        return {cid: order for cid, (order, _) in fresh.items()}

    def mark(
        self,
        unit: UnitOfWork,
        client_order_id: str,
        status: OrderStatus,
        *,
        now: datetime,
        reason: str | None = None,
        venue_order_id: str | None = None,
        sent: bool = False,
    ) -> OutboxOrder | None:
        """Move the order forward to `status` (a backward move is ignored); returns it."""
        order = self.load(unit, client_order_id)
        if order is None:
            return None
        changes: dict[str, Any] = {}
        if advances(order.status, status):
            changes["status"] = status
            if reason is not None:
                changes["reason"] = reason
        if venue_order_id is not None and order.venue_order_id is None:
            changes["venue_order_id"] = venue_order_id
        if sent and order.sent_at is None:
            changes["sent_at"] = now
        if not changes:
            return order
        changed = _with(order, updated_at=now, **changes)
        self._put(unit, changed)
        return changed

    def record_fills(
        self, unit: UnitOfWork, fills: Iterable[Fill], *, venue: str, now: datetime
    ) -> list[tuple[Fill, OutboxOrder | None]]:
        """Store each fill once; update its order and queue its trace row. Returns the fills
        that were new, in the order given, each with its order (None for a fill of an
        order this outbox does not know)."""
        batch: list[Fill] = []
        seen: set[str] = set()
        for fill in fills:
            if fill.trade_id not in seen:
                seen.add(fill.trade_id)
                batch.append(fill)
        if not batch:
            return []
        self._sync(unit)
        rows = [_fill_values(fill, venue, self.scope, now) for fill in batch]
        # At once and for the whole batch: the unique (venue, trade id) decides what is new.
        stored = self._insert_fills(unit, venue, rows)
        if not stored:
            return []
        self._touch(unit)
        recorded = []
        for fill in batch:
            if fill.trade_id in stored:
                recorded.append((fill, self._apply_fill(unit, fill, now)))
        return recorded

    # -- the unit of work's writer -----------------------------------------------------------

    def flush(self, unit: UnitOfWork) -> None:
        connection = unit.connection
        if self._traces:
            traces, self._traces = self._traces, []
            connection.execute(_INSERT_TRACE, traces)
        if self._changed:
            changed, self._changed = list(self._changed.values()), {}
            connection.execute(_ORDER_UPDATE, [_update_values(order) for order in changed])

    def discard(self) -> None:
        self._changed = {}
        self._traces = []
        self._ids = set()
        self._open = {}
        self._version = -1

    # -- internals ---------------------------------------------------------------------------

    def _sync(self, unit: UnitOfWork) -> None:
        if self._version == unit.version(ORDERS_CACHE):
            return
        ids = unit.execute(select(_ORDERS.c.client_order_id).where(_ORDERS.c.scope == self.scope))
        self._ids = {cid for (cid,) in ids}
        rows = unit.execute(
            select(_ORDERS).where(
                _ORDERS.c.scope == self.scope,
                _ORDERS.c.status.in_([status.value for status in OPEN_STATUSES]),
            )
        )
        self._open = {row.client_order_id: OutboxOrder.of(row) for row in rows}
        self._version = unit.version(ORDERS_CACHE)

    def _insert_fills(self, unit: UnitOfWork, venue: str, rows: list[dict[str, Any]]) -> set[str]:
        """Insert what is new; returns the trade ids inserted."""
        insert = insert_ignoring_duplicates(unit.connection, _FILLS)
        if unit.postgres:
            # psycopg counts no rows for executemany: the inserted rows name themselves.
            returned = unit.connection.execute(insert.returning(_FILLS.c.trade_id), rows)
            return {trade_id for (trade_id,) in returned}
        count = unit.connection.execute(insert, rows).rowcount
        if count == len(rows):
            return {row["trade_id"] for row in rows}
        return self._newest_fills(unit, venue, count)

    def _newest_fills(self, unit: UnitOfWork, venue: str, count: int) -> set[str]:
        """Some fills of a batch were stored before (a replay). The ones just stored are
        the scope's newest: no one else writes its rows while the unit holds its lock."""
        if count <= 0:
            return set()
        rows = unit.connection.execute(
            select(_FILLS.c.trade_id)
            .where(_FILLS.c.scope == self.scope, _FILLS.c.venue == venue)
            .order_by(_FILLS.c.id.desc())
            .limit(count)
        )
        return {trade_id for (trade_id,) in rows}

    def _touch(self, unit: UnitOfWork, rows: int = 0) -> None:
        self._version = unit.bump(ORDERS_CACHE)
        unit.enlist(self, rows)

    def _put(self, unit: UnitOfWork, order: OutboxOrder) -> None:
        self._touch(unit, rows=1)
        self._changed[order.client_order_id] = order
        if order.status in OPEN_STATUSES:
            self._open[order.client_order_id] = order
        else:
            self._open.pop(order.client_order_id, None)

    def _apply_fill(self, unit: UnitOfWork, fill: Fill, now: datetime) -> OutboxOrder | None:
        order = self.load(unit, fill.client_order_id)
        if order is None:
            return None
        quantity, price = _stored(fill.quantity), _stored(fill.price)
        filled = order.filled_quantity + quantity
        status = OrderStatus.FILLED if filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
        changed = _with(
            order,
            filled_quantity=filled,
            filled_notional=_stored(order.filled_notional + quantity * price),
            fees=order.fees + _stored(fill.fee),
            status=status if advances(order.status, status) else order.status,
            updated_at=now,
        )
        self._put(unit, changed)
        self._traces.append(_trace_entry(changed, fill).values())
        unit.enlist(self, rows=1)
        return changed


_ORDER_FIELDS = tuple(f.name for f in fields(OutboxOrder))
_set = object.__setattr__


def _with(order: OutboxOrder, **changes: Any) -> OutboxOrder:
    """`dataclasses.replace` without a second pass through __init__ (it runs for every
    order twice: accepted, filled)."""
    changed = object.__new__(OutboxOrder)
    for name in _ORDER_FIELDS:
        _set(changed, name, changes[name] if name in changes else getattr(order, name))
    return changed


def _stored(value: Decimal) -> Decimal:
    return value.quantize(_STORED, rounding=ROUND_HALF_EVEN)


def _new_order(
    entry: NewOrder, scope: str, venue: str, now: datetime
) -> tuple[OutboxOrder, dict[str, Any]]:
    child = entry.child
    order = child.order
    stored = OutboxOrder(
        client_order_id=order.client_order_id,
        scope=scope,
        mode=order.mode,
        strategy=order.strategy,
        venue=venue,
        symbol=order.instrument.symbol,
        side=order.side,
        order_type=order.order_type,
        time_in_force=child.time_in_force,
        quantity=order.quantity,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        status=OrderStatus.NEW,
        filled_quantity=Decimal(0),
        filled_notional=Decimal(0),
        fees=Decimal(0),
        venue_order_id=None,
        reason=None,
        policy=child.policy,
        decision_time=child.decision_time,
        decision_price=child.decision_price,
        arrival_mid=entry.arrival_mid,
        modelled_impact_bps=entry.estimate.impact_bps,
        created_at=now,
        sent_at=None,
        expires_at=child.expires_at,
        updated_at=now,
    )
    row = {
        "client_order_id": stored.client_order_id,
        "scope": scope,
        "mode": stored.mode.value,
        "strategy": stored.strategy,
        "venue": venue,
        "symbol": stored.symbol,
        "side": stored.side.value,
        "order_type": stored.order_type.value,
        "time_in_force": stored.time_in_force.value,
        "quantity": stored.quantity,
        "limit_price": stored.limit_price,
        "stop_price": stored.stop_price,
        "status": stored.status.value,
        "filled_quantity": stored.filled_quantity,
        "filled_notional": stored.filled_notional,
        "fees": stored.fees,
        "venue_order_id": None,
        "reason": None,
        "policy": stored.policy,
        "decision_time": stored.decision_time,
        "decision_price": stored.decision_price,
        "arrival_mid": stored.arrival_mid,
        "modelled_impact_bps": stored.modelled_impact_bps,
        "modelled_half_spread_bps": entry.estimate.half_spread_bps,
        "intent": {
            "horizon": child.horizon.value,
            "target_quantity": str(child.target_quantity),
            "slice_index": child.slice_index,
            "slice_count": child.slice_count,
            "release_at": child.release_at.isoformat(),
        },
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
        "expires_at": stored.expires_at,
    }
    return stored, row


def _update_values(order: OutboxOrder) -> dict[str, Any]:
    return {
        "b_client_order_id": order.client_order_id,
        "b_status": order.status.value,
        "b_filled_quantity": order.filled_quantity,
        "b_filled_notional": order.filled_notional,
        "b_fees": order.fees,
        "b_venue_order_id": order.venue_order_id,
        "b_reason": order.reason,
        "b_sent_at": order.sent_at,
        "b_updated_at": order.updated_at,
    }


def _fill_values(fill: Fill, venue: str, scope: str, now: datetime) -> dict[str, Any]:
    return {
        "venue": venue,
        "trade_id": fill.trade_id,
        "client_order_id": fill.client_order_id,
        "scope": scope,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "filled_at": fill.filled_at,
        "recorded_at": now,
    }


def _fill(row: Row[Any]) -> Fill:
    return Fill(
        trade_id=row.trade_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        filled_at=row.filled_at,
    )


def _trace_entry(order: OutboxOrder, fill: Fill) -> TraceEntry:
    return TraceEntry.of(
        fill,
        scope=order.scope,
        mode=order.mode.value,
        venue=order.venue,
        strategy=order.strategy,
        policy=order.policy,
        decision_time=order.decision_time,
        decision_price=order.decision_price,
        # Without a quote at arrival the decision price is the best reference we had.
        arrival_mid=order.arrival_mid if order.arrival_mid is not None else order.decision_price,
        impact_bps=order.modelled_impact_bps,
    )
