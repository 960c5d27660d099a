"""The order outbox and the fill ledger in the database.

An order row is written before the order is sent, so a crash at any point
leaves a record that reconciliation can settle. Statuses only move forward
(NEW → IN_FLIGHT → ACCEPTED → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED), so a
late or repeated report can never undo a later one. Fills are unique per
(venue, trade id) in the database itself, so a replayed fill from any thread or
process is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantgate.core.enums import Mode, OrderStatus, OrderType, Side
from quantgate.core.types import Fill
from quantgate.execution.brokers.base import TimeInForce
from quantgate.execution.costs import CostBreakdown
from quantgate.execution.intent import ChildOrder
from quantgate.execution.trace import TraceEntry
from quantgate.storage.models import FillRow, OrderRow

OPEN_STATUSES = (
    OrderStatus.NEW,
    OrderStatus.IN_FLIGHT,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
)

_RANK = {
    OrderStatus.NEW: 0,
    OrderStatus.IN_FLIGHT: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
    OrderStatus.FILLED: 4,
    OrderStatus.CANCELLED: 4,
    OrderStatus.REJECTED: 4,
}


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

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        if self.filled_quantity == 0:
            return None
        return self.filled_notional / self.filled_quantity

    @classmethod
    def of(cls, row: OrderRow) -> OutboxOrder:
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
        )


class OrderOutbox:
    def __init__(self, engine: Engine, scope: str) -> None:
        self.engine = engine
        self.scope = scope
        self._postgres = engine.dialect.name == "postgresql"

    def get(self, client_order_id: str) -> OutboxOrder | None:
        with Session(self.engine) as session:
            row = session.get(OrderRow, client_order_id)
            return None if row is None else OutboxOrder.of(row)

    def open_orders(self) -> list[OutboxOrder]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(OrderRow)
                .where(
                    OrderRow.scope == self.scope,
                    OrderRow.status.in_([status.value for status in OPEN_STATUSES]),
                )
                .order_by(OrderRow.created_at, OrderRow.client_order_id)
            )
            return [OutboxOrder.of(row) for row in rows]

    def insert(
        self,
        child: ChildOrder,
        *,
        venue: str,
        arrival_mid: Decimal | None,
        estimate: CostBreakdown,
        now: datetime,
    ) -> OutboxOrder | None:
        """Persist the order as NEW; None when that client_order_id is already stored."""
        order = child.order
        row = OrderRow(
            client_order_id=order.client_order_id,
            scope=self.scope,
            mode=order.mode.value,
            strategy=order.strategy,
            venue=venue,
            symbol=order.instrument.symbol,
            side=order.side.value,
            order_type=order.order_type.value,
            time_in_force=child.time_in_force.value,
            quantity=order.quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            status=OrderStatus.NEW.value,
            filled_quantity=Decimal(0),
            filled_notional=Decimal(0),
            fees=Decimal(0),
            policy=child.policy,
            decision_time=child.decision_time,
            decision_price=child.decision_price,
            arrival_mid=arrival_mid,
            modelled_impact_bps=estimate.impact_bps,
            modelled_half_spread_bps=estimate.half_spread_bps,
            intent={
                "horizon": child.horizon.value,
                "target_quantity": str(child.target_quantity),
                "slice_index": child.slice_index,
                "slice_count": child.slice_count,
                "release_at": child.release_at.isoformat(),
            },
            created_at=now,
            updated_at=now,
            expires_at=child.expires_at,
        )
        with Session(self.engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return None
            return OutboxOrder.of(row)

    def mark(
        self,
        client_order_id: str,
        status: OrderStatus,
        *,
        now: datetime,
        reason: str | None = None,
        venue_order_id: str | None = None,
        sent: bool = False,
    ) -> OutboxOrder | None:
        """Move the order forward to `status` (a backward move is ignored); returns it."""
        with self._writing() as session:
            row = self._locked(session, client_order_id)
            if row is None:
                return None
            changed = False
            if advances(OrderStatus(row.status), status):
                row.status, changed = status.value, True
                if reason is not None:
                    row.reason = reason
            if venue_order_id is not None and row.venue_order_id is None:
                row.venue_order_id, changed = venue_order_id, True
            if sent and row.sent_at is None:
                row.sent_at, changed = now, True
            if changed:
                row.updated_at = now
            return OutboxOrder.of(row)

    def record_fill(
        self, fill: Fill, *, venue: str, now: datetime
    ) -> tuple[bool, OutboxOrder | None]:
        """Store the fill once; update its order and write its trace row in the same
        transaction. Returns (new, order): new is False for a replayed trade id; order is
        None for a fill of an order this outbox does not know."""
        with Session(self.engine) as session:
            try:
                with session.begin():
                    # Insert first: on SQLite this takes the write lock before anything is read.
                    session.add(_fill_row(fill, venue, self.scope, now))
                    session.flush()
                    row = self._locked(session, fill.client_order_id)
                    if row is None:
                        return True, None
                    self._apply_fills(session, row, now)
                    session.add(_trace_entry(row, fill).row())
                    return True, OutboxOrder.of(row)
            except IntegrityError:
                return False, self.get(fill.client_order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(FillRow)
                .where(FillRow.client_order_id == client_order_id)
                .order_by(FillRow.filled_at, FillRow.id)
            )
            return [_fill(row) for row in rows]

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # SQLite: take the write lock before reading, or a concurrent commit between our
        # read and our write fails the write at once (SQLITE_BUSY_SNAPSHOT).
        with Session(self.engine) as session, session.begin():
            if not self._postgres:
                session.execute(text("BEGIN IMMEDIATE"))
            yield session

    def _locked(self, session: Session, client_order_id: str) -> OrderRow | None:
        query = select(OrderRow).where(OrderRow.client_order_id == client_order_id)
        if self._postgres:
            # Two fills of one order in two threads: the second waits and then sees the first.
            query = query.with_for_update()
        return session.scalars(query).one_or_none()

    def _apply_fills(self, session: Session, row: OrderRow, now: datetime) -> None:
        fills = session.scalars(
            select(FillRow).where(FillRow.client_order_id == row.client_order_id)
        ).all()
        row.filled_quantity = _sum(f.quantity for f in fills)
        row.filled_notional = _sum(f.quantity * f.price for f in fills)
        row.fees = _sum(f.fee for f in fills)
        status = (
            OrderStatus.FILLED
            if row.filled_quantity >= row.quantity
            else OrderStatus.PARTIALLY_FILLED
        )
        if advances(OrderStatus(row.status), status):
            row.status = status.value
        row.updated_at = now


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


def _fill_row(fill: Fill, venue: str, scope: str, now: datetime) -> FillRow:
    return FillRow(
        venue=venue,
        trade_id=fill.trade_id,
        client_order_id=fill.client_order_id,
        scope=scope,
        symbol=fill.symbol,
        side=fill.side.value,
        quantity=fill.quantity,
        price=fill.price,
        fee=fill.fee,
        filled_at=fill.filled_at,
        recorded_at=now,
    )


def _fill(row: FillRow) -> Fill:
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


def _trace_entry(row: OrderRow, fill: Fill) -> TraceEntry:
    return TraceEntry.of(
        fill,
        scope=row.scope,
        mode=row.mode,
        venue=row.venue,
        strategy=row.strategy,
        policy=row.policy,
        decision_time=row.decision_time,
        decision_price=row.decision_price,
        # Without a quote at arrival the decision price is the best reference we had.
        arrival_mid=row.arrival_mid if row.arrival_mid is not None else row.decision_price,
        impact_bps=row.modelled_impact_bps,
    )
