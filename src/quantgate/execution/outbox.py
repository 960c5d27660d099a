"""The order outbox and the fill ledger in the database.

An order row is written before the order is sent, so a crash at any point leaves a
record that reconciliation can settle. Statuses only move forward (NEW → IN_FLIGHT →
ACCEPTED → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED), so a late or repeated
report can never undo a later one. Fills are unique per (venue, trade id) in the
database itself, so a replayed fill from any thread or process is stored once.

Everything happens inside a unit of work of the scope's ledger. The scope's order ids
and open orders are mirrored in memory, stamped with the ledger's version of the order
rows, so a new id, a mark or a fill costs no read unless another writer changed the
rows.

- Per-unit ledgers (paper, live): new orders and new fills are inserted at once, one
  statement per batch: an order must be in the database before it is decided on or
  sent, and a fill must be known new before it is booked. Order updates and trace
  rows are queued and flushed with the unit, which commits before anything is sent.
- At-commit ledgers (backtests): the transaction holds the scope's write lock from
  its first unit to the commit, so the mirror — which then also holds the scope's
  trade ids — is the whole truth until then and every write can wait for the flush.
  An order that is inserted, accepted and filled between two flushes is written once,
  in its last state. Nothing outside the transaction could have read the rows
  earlier anyway, and a restart resumes from the checkpoint, taken after a commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update

from quantgate.core.clock import LatestIsoformat
from quantgate.core.enums import Mode, OrderStatus, OrderType, Side
from quantgate.core.slots import slot_init
from quantgate.core.types import Fill
from quantgate.execution.brokers.base import TimeInForce
from quantgate.execution.costs import CostBreakdown
from quantgate.execution.intent import ChildOrder
from quantgate.execution.trace import TRACE_COLUMNS, trace_row
from quantgate.storage.bulk import BulkStatement
from quantgate.storage.ledger import (
    Durability,
    ScopeLedger,
    UnitOfWork,
    insert_ignoring_duplicates,
    table_of,
)
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
_ZERO = Decimal(0)

_ORDERS = table_of(OrderRow)
_FILLS = table_of(FillRow)
_TRACE = table_of(ExecutionTraceRow)
_ORDER_KEYS = (
    "client_order_id",
    "scope",
    "mode",
    "strategy",
    "venue",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "quantity",
    "limit_price",
    "stop_price",
    "status",
    "filled_quantity",
    "filled_notional",
    "fees",
    "venue_order_id",
    "reason",
    "policy",
    "decision_time",
    "decision_price",
    "arrival_mid",
    "modelled_impact_bps",
    "modelled_half_spread_bps",
    "intent",
    "created_at",
    "updated_at",
    "sent_at",
    "expires_at",
)
_FILL_KEYS = (
    "venue",
    "trade_id",
    "client_order_id",
    "scope",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "filled_at",
    "recorded_at",
)
_UPDATED = (
    "status",
    "filled_quantity",
    "filled_notional",
    "fees",
    "venue_order_id",
    "reason",
    "sent_at",
    "updated_at",
)
_INSERT_ORDERS = BulkStatement(_ORDERS.insert(), _ORDER_KEYS, _ORDERS)
_INSERT_FILLS = BulkStatement(_FILLS.insert(), _FILL_KEYS, _FILLS)
_INSERT_TRACE = BulkStatement(_TRACE.insert(), TRACE_COLUMNS, _TRACE)
_ORDER_UPDATE = BulkStatement(
    update(_ORDERS)
    .where(_ORDERS.c.client_order_id == bindparam("b_client_order_id"))
    .values({name: bindparam(f"b_{name}") for name in _UPDATED}),
    ("b_client_order_id", *(f"b_{name}" for name in _UPDATED)),
    _ORDERS,
    type_of={f"b_{name}": name for name in ("client_order_id", *_UPDATED)},
)


def advances(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether moving from `current` to `new` is progress (terminal states are final)."""
    return not current.is_terminal and _RANK[new] > _RANK[current]


# Not slotted: the outbox makes and copies these by their instance dict (`_record`,
# `_with`), for a fraction of the cost of setting 27 fields one by one.
@dataclass(frozen=True)
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


@slot_init
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
        # See the module docstring: an at-commit ledger lets every write wait for the flush.
        self._deferred = ledger.durability is Durability.AT_COMMIT
        # Every order id of the scope (a new order is checked against it, not the table)
        # and the open orders; both as of the ledger's version `_version`.
        self._ids: set[str] = set()
        self._open: dict[str, OutboxOrder] = {}
        self._version = -1
        # Deferred only: the scope's (venue, trade id) pairs, and orders not yet written
        # (their latest state, plus the columns the mirror does not keep).
        self._trades: set[tuple[str, str]] = set()
        self._unwritten: dict[str, tuple[OutboxOrder, float, dict[str, Any]]] = {}
        self._unwritten_fills: list[tuple[Any, ...]] = []
        self._changed: dict[str, OutboxOrder] = {}
        self._traces: list[tuple[Any, ...]] = []

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

    def last_fill_id(self, unit: UnitOfWork) -> int:
        """The scope's highest fill row id (0 with none): fills recorded later have higher."""
        value = unit.execute(
            select(func.max(_FILLS.c.id)).where(_FILLS.c.scope == self.scope)
        ).scalar()
        return int(value or 0)

    def fills_after(self, unit: UnitOfWork, fill_id: int) -> list[Fill]:
        """The scope's fills recorded after row `fill_id`, in the order they were recorded."""
        rows = unit.execute(
            select(_FILLS)
            .where(_FILLS.c.scope == self.scope, _FILLS.c.id > fill_id)
            .order_by(_FILLS.c.id)
        )
        return [_fill(row) for row in rows]

    def fills_with_trade_ids(
        self, unit: UnitOfWork, venue: str, trade_ids: Sequence[str]
    ) -> list[Fill]:
        """The scope's fills from `venue` with these trade ids, in the order they were recorded."""
        if not trade_ids:
            return []
        rows = unit.execute(
            select(_FILLS)
            .where(
                _FILLS.c.scope == self.scope,
                _FILLS.c.venue == venue,
                _FILLS.c.trade_id.in_(trade_ids),
            )
            .order_by(_FILLS.c.id)
        )
        return [_fill(row) for row in rows]

    def intent_of(self, unit: UnitOfWork, client_order_id: str) -> dict[str, Any] | None:
        """What the order's row keeps of its plan (horizon, target_quantity, slice_index,
        slice_count, release_at); None for an unknown order."""
        self._sync(unit)
        unwritten = self._unwritten.get(client_order_id)
        if unwritten is not None:
            return dict(unwritten[2])
        row = unit.execute(
            select(_ORDERS.c.intent).where(_ORDERS.c.client_order_id == client_order_id)
        ).one_or_none()
        return None if row is None else dict(row[0])

    def load(self, unit: UnitOfWork, client_order_id: str) -> OutboxOrder | None:
        self._sync(unit)
        order = self._open.get(client_order_id)
        if order is not None:
            return order
        unwritten = self._unwritten.get(client_order_id)
        if unwritten is not None:
            return unwritten[0]
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
        fresh: dict[str, tuple[OutboxOrder, float, dict[str, Any]]] = {}
        for entry in orders:
            cid = entry.child.client_order_id
            if cid not in self._ids and cid not in fresh:
                fresh[cid] = _new_order(entry, self.scope, venue, now)
        if not fresh:
            return {}
        if self._deferred:
            self._unwritten.update(fresh)
            self._touch(unit, rows=len(fresh))
        else:
            # Executed now, not queued: the order is in the database before anyone decides
            # on it or sends it. No queued write touches these rows, so nothing is flushed
            # first. The ids are known to be new (the mirror holds every id of the scope);
            # the primary key would refuse a repeat all the same.
            _INSERT_ORDERS.execute(unit.connection, [_order_row(*new) for new in fresh.values()])
            self._touch(unit)
        for cid, (order, _, _) in fresh.items():
            self._ids.add(cid)
            self._open[cid] = order
        return {cid: order for cid, (order, _, _) in fresh.items()}

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
        changes["updated_at"] = now
        changed = _with(order, changes)
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
        if self._deferred:
            stored = self._queue_fills(batch, venue, now)
        else:
            rows = [_fill_row(fill, venue, self.scope, now) for fill in batch]
            # At once and for the whole batch: the unique (venue, trade id) decides what
            # is new.
            stored = self._insert_fills(unit, venue, rows)
        if not stored:
            return []
        self._touch(unit, rows=len(stored) if self._deferred else 0)
        recorded = []
        for fill in batch:
            if fill.trade_id in stored:
                recorded.append((fill, self._apply_fill(unit, fill, now)))
        return recorded

    # -- the unit of work's writer -----------------------------------------------------------

    def flush(self, unit: UnitOfWork) -> None:
        connection = unit.connection
        if self._unwritten:
            unwritten, self._unwritten = self._unwritten, {}
            _INSERT_ORDERS.execute(connection, [_order_row(*new) for new in unwritten.values()])
        if self._unwritten_fills:
            fills, self._unwritten_fills = self._unwritten_fills, []
            _INSERT_FILLS.execute(connection, fills)
        if self._traces:
            traces, self._traces = self._traces, []
            _INSERT_TRACE.execute(connection, traces)
        if self._changed:
            changed, self._changed = list(self._changed.values()), {}
            _ORDER_UPDATE.execute(connection, [_update_row(order) for order in changed])

    def discard(self) -> None:
        self._changed = {}
        self._traces = []
        self._unwritten = {}
        self._unwritten_fills = []
        self._ids = set()
        self._trades = set()
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
        if self._deferred:
            trades = unit.execute(
                select(_FILLS.c.venue, _FILLS.c.trade_id).where(_FILLS.c.scope == self.scope)
            )
            self._trades = {(row.venue, row.trade_id) for row in trades}
        self._version = unit.version(ORDERS_CACHE)

    def _queue_fills(self, batch: Sequence[Fill], venue: str, now: datetime) -> set[str]:
        """Deferred: the scope's trade ids are all in memory, so they decide what is new.
        (Another scope's fill with the same venue trade id would still meet the unique
        key at the flush, and fail the transaction loudly.)"""
        trades, stored = self._trades, set()
        for fill in batch:
            key = (venue, fill.trade_id)
            if key not in trades:
                trades.add(key)
                stored.add(fill.trade_id)
                self._unwritten_fills.append(_fill_row(fill, venue, self.scope, now))
        return stored

    def _insert_fills(self, unit: UnitOfWork, venue: str, rows: list[tuple[Any, ...]]) -> set[str]:
        """Insert what is new; returns the trade ids inserted."""
        insert = insert_ignoring_duplicates(unit.connection, _FILLS)
        values = [dict(zip(_FILL_KEYS, row, strict=True)) for row in rows]
        if unit.postgres:
            # psycopg counts no rows for executemany: the inserted rows name themselves.
            returned = unit.connection.execute(insert.returning(_FILLS.c.trade_id), values)
            return {trade_id for (trade_id,) in returned}
        count = unit.connection.execute(insert, values).rowcount
        if count == len(rows):
            return {row[_TRADE_ID] for row in rows}
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
        cid = order.client_order_id
        unwritten = self._unwritten.get(cid)
        if unwritten is not None:  # not in the database yet: it will be inserted as it is now
            self._unwritten[cid] = (order, unwritten[1], unwritten[2])
            self._touch(unit)
        else:
            self._touch(unit, rows=1)
            self._changed[cid] = order
        if order.status in OPEN_STATUSES:
            self._open[cid] = order
        else:
            self._open.pop(cid, None)

    def _apply_fill(self, unit: UnitOfWork, fill: Fill, now: datetime) -> OutboxOrder | None:
        order = self.load(unit, fill.client_order_id)
        if order is None:
            return None
        quantity, price = _stored(fill.quantity), _stored(fill.price)
        filled = order.filled_quantity + quantity
        status = OrderStatus.FILLED if filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
        changed = _with(
            order,
            {
                "filled_quantity": filled,
                "filled_notional": _stored(order.filled_notional + quantity * price),
                "fees": order.fees + _stored(fill.fee),
                "status": status if advances(order.status, status) else order.status,
                "updated_at": now,
            },
        )
        self._put(unit, changed)
        self._traces.append(_trace_row(changed, fill))
        unit.enlist(self, rows=1)
        return changed


def _record(fields: dict[str, Any]) -> OutboxOrder:
    """An OutboxOrder straight from all its fields: a frozen dataclass's __init__ sets
    each one through object.__setattr__, ten times the cost (it runs for every order)."""
    order = object.__new__(OutboxOrder)
    order.__dict__.update(fields)
    return order


def _with(order: OutboxOrder, changes: dict[str, Any]) -> OutboxOrder:
    """`dataclasses.replace` without a second pass through __init__ (it runs for every
    order two or three times: accepted, filled, cancelled)."""
    copy = object.__new__(OutboxOrder)
    fields = copy.__dict__
    fields.update(order.__dict__)
    fields.update(changes)
    return copy


def _stored(value: Decimal) -> Decimal:
    return value.quantize(_STORED, rounding=ROUND_HALF_EVEN)


def _new_order(
    entry: NewOrder, scope: str, venue: str, now: datetime
) -> tuple[OutboxOrder, float, dict[str, Any]]:
    """The order as the mirror keeps it, plus the columns only the table keeps."""
    child = entry.child
    order = child.order
    stored = _record(
        {
            "client_order_id": order.client_order_id,
            "scope": scope,
            "mode": order.mode,
            "strategy": order.strategy,
            "venue": venue,
            "symbol": order.instrument.symbol,
            "side": order.side,
            "order_type": order.order_type,
            "time_in_force": child.time_in_force,
            "quantity": order.quantity,
            "limit_price": order.limit_price,
            "stop_price": order.stop_price,
            "status": OrderStatus.NEW,
            "filled_quantity": _ZERO,
            "filled_notional": _ZERO,
            "fees": _ZERO,
            "venue_order_id": None,
            "reason": None,
            "policy": child.policy,
            "decision_time": child.decision_time,
            "decision_price": child.decision_price,
            "arrival_mid": entry.arrival_mid,
            "modelled_impact_bps": entry.estimate.impact_bps,
            "created_at": now,
            "sent_at": None,
            "expires_at": child.expires_at,
            "updated_at": now,
        }
    )
    intent = {
        "horizon": child.horizon.value,
        "target_quantity": str(child.target_quantity),
        "slice_index": child.slice_index,
        "slice_count": child.slice_count,
        "release_at": _release_text(child.release_at),
    }
    return stored, entry.estimate.half_spread_bps, intent


# The children released by one event (most orders) share their release time.
_release_text = LatestIsoformat()


def _order_row(
    order: OutboxOrder, half_spread_bps: float, intent: dict[str, Any]
) -> tuple[Any, ...]:
    """The order's columns in the order of `_ORDER_KEYS`."""
    return (
        order.client_order_id,
        order.scope,
        order.mode.value,
        order.strategy,
        order.venue,
        order.symbol,
        order.side.value,
        order.order_type.value,
        order.time_in_force.value,
        order.quantity,
        order.limit_price,
        order.stop_price,
        order.status.value,
        order.filled_quantity,
        order.filled_notional,
        order.fees,
        order.venue_order_id,
        order.reason,
        order.policy,
        order.decision_time,
        order.decision_price,
        order.arrival_mid,
        order.modelled_impact_bps,
        half_spread_bps,
        intent,
        order.created_at,
        order.updated_at,
        order.sent_at,
        order.expires_at,
    )


def _update_row(order: OutboxOrder) -> tuple[Any, ...]:
    return (
        order.client_order_id,
        order.status.value,
        order.filled_quantity,
        order.filled_notional,
        order.fees,
        order.venue_order_id,
        order.reason,
        order.sent_at,
        order.updated_at,
    )


def _fill_row(fill: Fill, venue: str, scope: str, now: datetime) -> tuple[Any, ...]:
    return (
        venue,
        fill.trade_id,
        fill.client_order_id,
        scope,
        fill.symbol,
        fill.side.value,
        fill.quantity,
        fill.price,
        fill.fee,
        fill.filled_at,
        now,
    )


_TRADE_ID = _FILL_KEYS.index("trade_id")


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


def _trace_row(order: OutboxOrder, fill: Fill) -> tuple[Any, ...]:
    return trace_row(
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
