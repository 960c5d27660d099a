"""The order gateway: the only way an order reaches a broker.

For each child order, in this order:

1. Idempotency: a client_order_id already in the outbox is never sent again; the
   stored order is returned (`DUPLICATE`).
2. Circuit breaker: while the broker keeps failing, submits are refused
   (`REFUSED`) and nothing is stored, so the same child can be retried later.
3. Persist: the order is written to the outbox as NEW before anything else.
4. Risk gate: a denied order is marked rejected and never sent (`DENIED`).
5. Send, and record the outcome: accepted (`SENT`), rejected (`REJECTED`), or
   unknown (`IN_FLIGHT`: it stays so until `reconcile` settles it by a query; it
   is never blindly re-sent).

`submit_many` does this for the children of one engine event together: steps 1-4 of
all of them in one unit of work of the scope's ledger (the outbox rows, decisions and
reservations are in the database — committed, when the ledger commits per unit —
before the first one is sent), then the sends one by one, then their outcomes in a
second unit. Batches never hold more children than failures the circuit breaker can
take while staying closed, so each child meets the breaker as it would alone. Unlike
one at a time, the gate decides every child of a batch before any is sent: a venue
rejection cannot make room for a later child of the same batch (the gate only ever
errs on the side of reserving).

Fills come in through `on_fill` (push) or `reconcile` (poll); both de-duplicate by
venue trade id in the database, update the order, shrink its risk reservation and
write the execution trace, a poll's fills in one unit. Every new fill reaches the book
through `reconcile`'s report or `take_unreported_fills`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

import structlog
from sqlalchemy import Engine

from quantgate.core.clock import Clock
from quantgate.core.enums import DenyReason, OrderStatus
from quantgate.core.errors import ProgrammerError, QuantgateError, TemporaryError
from quantgate.core.slots import slot_init
from quantgate.core.types import Fill
from quantgate.execution.brokers.base import (
    Broker,
    BrokerError,
    OrderState,
    SubmitOutcome,
)
from quantgate.execution.circuit import CircuitBreaker, Permit
from quantgate.execution.config import GatewayConfig
from quantgate.execution.costs import CostBreakdown, CostModel, MarketContext
from quantgate.execution.fill_cursor import FillCursor
from quantgate.execution.intent import ChildOrder
from quantgate.execution.outbox import NewOrder, OrderOutbox, OutboxOrder
from quantgate.execution.risk_port import RiskPort
from quantgate.storage.ledger import UnitOfWork
from quantgate.storage.models.trading import is_storable_decimal

log = structlog.get_logger(__name__)

ContextT = TypeVar("ContextT")

_SEEN_TRADES_KEPT = 100_000


class SubmitStatus(StrEnum):
    SENT = "sent"  # the venue accepted it
    IN_FLIGHT = "in_flight"  # outcome unknown; reconcile settles it
    DENIED = "denied"  # the risk gate said no; never sent
    REJECTED = "rejected"  # the venue said no, or it certainly never got there
    REFUSED = "refused"  # circuit open; nothing stored, the same child may come back later
    DUPLICATE = "duplicate"  # already in the outbox; nothing sent


@slot_init
@dataclass(frozen=True, slots=True)
class GatewayResult:
    status: SubmitStatus
    client_order_id: str
    order: OutboxOrder | None = None
    reason: str | None = None
    deny_reason: DenyReason | None = None


@dataclass(frozen=True, slots=True)
class FillMark:
    """The fills a book holds: every fill recorded up to row `through` (the scope's
    highest fill id) except those with the trade ids in `waiting`, recorded but not yet
    handed to the book."""

    through: int
    waiting: tuple[str, ...] = ()


@slot_init
@dataclass(frozen=True, slots=True)
class Submission(Generic[ContextT]):
    """One child order with what the gate and the cost model need to judge it."""

    child: ChildOrder
    risk_context: ContextT
    market: MarketContext


@slot_init
@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """New fills (apply them to the book in this order) and orders whose status changed."""

    fills: tuple[Fill, ...] = ()
    settled: tuple[OutboxOrder, ...] = field(default_factory=tuple)


class _Sent(NamedTuple):
    """What a send came to, before it is recorded (one per order sent)."""

    status: SubmitStatus
    venue_order_id: str | None = None
    reason: str | None = None


class OrderGateway(Generic[ContextT]):
    def __init__(
        self,
        engine: Engine,
        broker: Broker,
        risk: RiskPort[ContextT],
        cost_model: CostModel,
        *,
        scope: str,
        clock: Clock,
        config: GatewayConfig | None = None,
    ) -> None:
        if risk.ledger.engine is not engine or risk.ledger.scope != scope:
            raise ProgrammerError(f"the risk gate of scope {risk.ledger.scope!r} is not {scope!r}")
        self.config = config or GatewayConfig()
        self.broker = broker
        self.risk = risk
        self.cost_model = cost_model
        self.scope = scope
        self.clock = clock
        # The gate's ledger: an order's outbox row and its decision share a unit of work.
        self.ledger = risk.ledger
        self.outbox = OrderOutbox(self.ledger)
        self.breaker = CircuitBreaker(clock, self.config.circuit)
        self._grace = timedelta(seconds=self.config.unknown_grace_seconds)
        self._cursor = FillCursor(scope, broker.venue)
        self._reconcile_lock = threading.Lock()
        # Venues repeat fills (order queries list them all, polling windows overlap); this
        # spares the database an insert for each repeat this process has seen.
        self._seen_trades: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._seen_lock = threading.Lock()
        # Fills a cancel's answer carried or a venue pushed (`on_fill`): recorded (and
        # de-duplicated) at once, so that no reservation leaves them uncounted, and handed
        # to the book by `take_unreported_fills` or the next reconcile.
        self._unreported: list[Fill] = []
        # Held from a pushed fill's record until it is queued for the book, and while a
        # checkpoint reads its fill mark: a mark never counts a recorded fill as booked
        # that neither the book nor the queue holds.
        self._handover_lock = threading.Lock()

    def commit(self) -> None:
        """Make everything written so far durable (only AT_COMMIT ledgers hold any back)."""
        self.ledger.commit()

    # -- sending ----------------------------------------------------------------------------

    def submit(
        self, child: ChildOrder, risk_context: ContextT, market: MarketContext
    ) -> GatewayResult:
        """Send one child order through the outbox, the circuit breaker and the risk gate."""
        return self.submit_many([Submission(child, risk_context, market)])[0]

    def submit_many(self, submissions: Sequence[Submission[ContextT]]) -> list[GatewayResult]:
        """Submit children in this order; one result each, in the same order."""
        for submission in submissions:
            if submission.child.scope != self.scope:
                raise ProgrammerError(
                    f"child of scope {submission.child.scope!r} sent to gateway {self.scope!r}"
                )
        results: list[GatewayResult] = []
        while len(results) < len(submissions):
            size = max(1, self.breaker.headroom())
            results.extend(self._submit_batch(submissions[len(results) : len(results) + size]))
        return results

    def _submit_batch(self, batch: Sequence[Submission[ContextT]]) -> list[GatewayResult]:
        permits = [self.breaker.acquire() for _ in batch]
        results: dict[int, GatewayResult] = {}
        allowed: list[tuple[int, ChildOrder]] = []
        failure: Exception | None = None
        try:
            with self.ledger.unit() as unit:
                failure = self._persist_and_check(unit, batch, permits, results, allowed)
        except BaseException:
            for permit in permits:  # nothing reached the broker
                if permit is not None:
                    self.breaker.release_unused(permit)
            raise
        # Persisted (and committed, per unit) before the first send.
        sent = [(index, child, self._send(child)) for index, child in allowed]
        if sent:
            with self.ledger.unit() as unit:
                for index, child, outcome in sent:
                    results[index] = self._record_outcome(unit, child.client_order_id, outcome)
        if failure is not None:
            raise failure
        return [results[index] for index in range(len(results))]

    def _persist_and_check(
        self,
        unit: UnitOfWork,
        batch: Sequence[Submission[ContextT]],
        permits: Sequence[Permit | None],
        results: dict[int, GatewayResult],
        allowed: list[tuple[int, ChildOrder]],
    ) -> Exception | None:
        """Store the batch's orders and ask the risk gate about each; fills `results` for
        those that go no further and `allowed` with those to send. Returns the error of
        a gate that failed (the batch stops there; what was allowed before it is sent)."""
        now = self.clock.now()
        storable = [
            NewOrder(s.child, s.market.mid, self._estimate(s))
            for s, permit in zip(batch, permits, strict=True)
            if permit is not None and _storable(s.child)
        ]
        stored = self.outbox.insert(unit, storable, venue=self.broker.venue, now=now)
        for index, (submission, permit) in enumerate(zip(batch, permits, strict=True)):
            child, cid = submission.child, submission.child.client_order_id
            if permit is None:
                results[index] = self._refused_or_duplicate(unit, cid)
                continue
            if stored.pop(cid, None) is None:  # popped: the same id twice is a duplicate
                self.breaker.release_unused(permit)  # nothing reaches the broker
                if _storable(child):
                    existing = self.outbox.load(unit, cid)
                    results[index] = GatewayResult(
                        SubmitStatus.DUPLICATE, cid, existing, "already in the outbox"
                    )
                else:
                    results[index] = self._deny_unstorable(child, submission.risk_context)
                continue
            try:
                verdict = self.risk.check(child.order, submission.risk_context)
            except Exception as error:
                # Fail closed: without a decision the order must not go out, nor may the
                # batch's later orders, stored already but not decided.
                for later, later_permit in enumerate(permits[index:], start=index):
                    if later_permit is None:
                        continue
                    self.breaker.release_unused(later_permit)
                    reason = "risk gate failed" + ("" if later == index else f" (on {cid})")
                    later_cid = batch[later].child.client_order_id
                    if later_cid in stored or later == index:
                        self.outbox.mark(
                            unit, later_cid, OrderStatus.REJECTED, now=now, reason=reason
                        )
                return error
            if verdict.allowed:
                allowed.append((index, child))
                continue
            self.breaker.release_unused(permit)
            reason = f"risk: {verdict.reason.value if verdict.reason else 'denied'}"
            marked = self.outbox.mark(unit, cid, OrderStatus.REJECTED, now=now, reason=reason)
            results[index] = GatewayResult(SubmitStatus.DENIED, cid, marked, reason, verdict.reason)
        return None

    def _refused_or_duplicate(self, unit: UnitOfWork, cid: str) -> GatewayResult:
        existing = self.outbox.load(unit, cid)
        if existing is not None:
            return GatewayResult(SubmitStatus.DUPLICATE, cid, existing, "already in the outbox")
        retry_at = self.breaker.retry_at()
        reason = "circuit open" + (f" until {retry_at.isoformat()}" if retry_at else "")
        return GatewayResult(SubmitStatus.REFUSED, cid, None, reason)

    def _estimate(self, submission: Submission[ContextT]) -> CostBreakdown:
        child, market = submission.child, submission.market
        order = child.order
        arrival = market.mid if market.mid is not None else child.decision_price
        if order.quantity > 0 and arrival.is_finite() and arrival > 0:
            return self.cost_model.estimate(order.side, order.quantity, arrival, market)
        # A malformed order is about to be denied; it costs nothing because it never trades.
        return CostBreakdown(Decimal(0), Decimal(0), Decimal(0), 0.0, 0.0)

    def _deny_unstorable(self, child: ChildOrder, risk_context: ContextT) -> GatewayResult:
        """A non-finite quantity or price cannot be an outbox row; the gate still decides and
        records it (its decision row keeps the raw text), and it never goes further."""
        verdict = self.risk.check(child.order, risk_context)
        if verdict.allowed:
            raise ProgrammerError(f"{child.client_order_id}: risk gate allowed a non-finite order")
        reason = f"risk: {verdict.reason.value if verdict.reason else 'denied'}"
        return GatewayResult(
            SubmitStatus.DENIED, child.client_order_id, None, reason, verdict.reason
        )

    def _send(self, child: ChildOrder) -> _Sent:
        cid = child.client_order_id
        try:
            result = self.broker.submit(child.order, time_in_force=child.time_in_force)
        except (TemporaryError, BrokerError) as error:
            # The broker promises these mean the order never reached the venue.
            self.breaker.record_failure()
            log.warning("submit_failed", client_order_id=cid, error=str(error))
            return _Sent(SubmitStatus.REJECTED, reason=f"{type(error).__name__}: {error.message}")
        except Exception as error:
            # Anything else: we cannot know whether it got there. Keep it in flight.
            self.breaker.record_failure()
            log.exception("submit_outcome_unknown", client_order_id=cid)
            return _Sent(
                SubmitStatus.IN_FLIGHT, reason=f"unexpected {type(error).__name__}: {error}"
            )
        if result.outcome is SubmitOutcome.ACCEPTED:
            self.breaker.record_success()
            return _Sent(SubmitStatus.SENT, venue_order_id=result.venue_order_id)
        if result.outcome is SubmitOutcome.REJECTED:
            # The venue answered: the connection works even if it did not like the order.
            self.breaker.record_success()
            return _Sent(SubmitStatus.REJECTED, reason=f"venue: {result.reason}")
        self.breaker.record_failure()
        return _Sent(SubmitStatus.IN_FLIGHT, reason=f"unknown outcome: {result.reason}")

    def _record_outcome(self, unit: UnitOfWork, cid: str, sent: _Sent) -> GatewayResult:
        now = self.clock.now()
        if sent.status is SubmitStatus.SENT:
            stored = self.outbox.mark(
                unit,
                cid,
                OrderStatus.ACCEPTED,
                now=now,
                venue_order_id=sent.venue_order_id,
                sent=True,
            )
            return GatewayResult(SubmitStatus.SENT, cid, stored)
        if sent.status is SubmitStatus.REJECTED:
            stored = self.outbox.mark(unit, cid, OrderStatus.REJECTED, now=now, reason=sent.reason)
            self.risk.release(cid)
            return GatewayResult(SubmitStatus.REJECTED, cid, stored, sent.reason)
        stored = self.outbox.mark(
            unit, cid, OrderStatus.IN_FLIGHT, now=now, reason=sent.reason, sent=True
        )
        return GatewayResult(SubmitStatus.IN_FLIGHT, cid, stored, sent.reason)

    # -- cancelling ---------------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> OutboxOrder | None:
        """Cancel what is left of an order at the venue; broker errors propagate."""
        state = self.broker.cancel(client_order_id)
        fresh = [] if state is None else self._unseen(state.fills)
        with self.ledger.unit() as unit:
            recorded = self._record_fills(unit, fresh)
            if state is not None:
                self._ingest_state(unit, state)
            order = self.outbox.load(unit, client_order_id)
        self._remember(fresh)
        if recorded:
            with self._seen_lock:
                self._unreported.extend(recorded)
        return order

    def take_unreported_fills(self) -> list[Fill]:
        """Fills recorded since the last call or reconcile that no reconcile reported yet
        (those a cancel's answer carried): book them before deciding the next orders."""
        with self._seen_lock:
            taken, self._unreported = self._unreported, []
        return taken

    def cancel_open(self, *, strategy: str | None = None, symbol: str | None = None) -> int:
        """Cancel the open orders of a strategy and/or symbol (e.g. when a new plan replaces
        an old one); returns how many cancels were sent."""
        count = 0
        for order in self.outbox.open_orders():
            if strategy is not None and order.strategy != strategy:
                continue
            if symbol is not None and order.symbol != symbol:
                continue
            if order.status in (OrderStatus.NEW, OrderStatus.IN_FLIGHT):
                continue  # not known to be at the venue; reconcile settles these first
            if self._try_cancel(order.client_order_id):
                count += 1
        return count

    def expire(self) -> int:
        """Cancel open orders whose `expires_at` has passed (passive slices); returns the count."""
        now, count = self.clock.now(), 0
        for order in self.outbox.open_orders():
            if order.expires_at is None or order.expires_at > now:
                continue
            if order.status in (OrderStatus.NEW, OrderStatus.IN_FLIGHT):
                continue
            if self._try_cancel(order.client_order_id):
                count += 1
        return count

    def _try_cancel(self, client_order_id: str) -> bool:
        try:
            self.cancel(client_order_id)
        except QuantgateError as error:
            log.warning("cancel_failed", client_order_id=client_order_id, error=str(error))
            return False
        return True

    # -- fills and reconciliation ---------------------------------------------------------------

    def on_fill(self, fill: Fill) -> bool:
        """Record one fill a venue pushed and queue it for the book (the next reconcile or
        `take_unreported_fills` hands it over); False when its trade id was seen before
        (nothing changes then)."""
        fresh = self._unseen([fill])
        if not fresh:
            # A shortcut only: the database's unique (venue, trade id) is what guarantees once.
            return False
        with self._handover_lock:
            with self.ledger.unit() as unit:
                recorded = self._record_fills(unit, fresh)
            self._remember(fresh)
            with self._seen_lock:
                self._unreported.extend(recorded)
        return bool(recorded)

    def reconcile(self) -> ReconcileReport:
        """Pull new fills and settle every open order with the venue's view of it.

        Call once per bar (after `broker.on_bar`) and at start-up. Orders the venue
        does not know are left alone for `unknown_grace_seconds` after they were
        stored, then declared never-sent (NEW) or lost (IN_FLIGHT) and released.
        The venue is asked outside any unit of work (no database lock waits on it).
        """
        with self._reconcile_lock:
            cursor = self._fill_cursor()
            try:
                batch = self.broker.fills_since(cursor)
            except QuantgateError as error:
                log.warning("fills_since_failed", error=str(error))
                batch = None
            fresh = [] if batch is None else self._unseen(batch.fills)
            with self.ledger.unit() as unit:
                fills = self._record_fills(unit, fresh)
                if batch is not None and batch.cursor != cursor:
                    self._cursor.put(unit, batch.cursor)
                open_orders = self.outbox.open_in(unit)
            self._remember(fresh)
            fills = self.take_unreported_fills() + fills
            states: list[tuple[OutboxOrder, OrderState | None]] = []
            for order in open_orders:
                try:
                    states.append((order, self.broker.query(order.client_order_id)))
                except QuantgateError as error:
                    log.warning(
                        "query_failed", client_order_id=order.client_order_id, error=str(error)
                    )
            if not states:
                return ReconcileReport(tuple(fills), ())
            settled: list[OutboxOrder] = []
            # Remembered only once the unit has committed: a fill remembered as seen but
            # rolled back with the unit would be skipped by every later reconcile, leaving
            # its order open and its reservation held for the life of the process.
            queried_fills: list[Fill] = []
            with self.ledger.unit() as unit:
                for order, state in states:
                    if state is None:
                        changed = self._settle_unknown(unit, order)
                    else:
                        repeated = self._unseen(state.fills)
                        if repeated:  # usually none: the fills came through the cursor
                            fills.extend(self._record_fills(unit, repeated))
                            queried_fills.extend(repeated)
                        changed = self._ingest_state(unit, state)
                    if changed is not None and changed.status != order.status:
                        settled.append(changed)
            self._remember(queried_fills)
            return ReconcileReport(tuple(fills), tuple(settled))

    def _fill_cursor(self) -> str | None:
        if self._cursor.loaded:
            return self._cursor.value
        with self.ledger.unit() as unit:
            return self._cursor.get(unit)

    def _record_fills(self, unit: UnitOfWork, fills: Sequence[Fill]) -> list[Fill]:
        """Store the fills; update their orders' reservations. Returns the new ones."""
        if not fills:
            return []
        recorded = self.outbox.record_fills(
            unit, fills, venue=self.broker.venue, now=self.clock.now()
        )
        for fill, order in recorded:
            if order is None:
                log.error(
                    "fill_for_unknown_order",
                    trade_id=fill.trade_id,
                    client_order_id=fill.client_order_id,
                )
            elif order.status.is_terminal:
                self.risk.release(order.client_order_id)
            else:
                self.risk.set_filled(order.client_order_id, order.filled_quantity)
        return [fill for fill, _ in recorded]

    def _unseen(self, fills: Sequence[Fill]) -> list[Fill]:
        venue, seen = self.broker.venue, self._seen_trades
        with self._seen_lock:
            return [fill for fill in fills if (venue, fill.trade_id) not in seen]

    def _remember(self, fills: Sequence[Fill]) -> None:
        venue = self.broker.venue
        with self._seen_lock:
            for fill in fills:
                self._seen_trades[(venue, fill.trade_id)] = None
            while len(self._seen_trades) > _SEEN_TRADES_KEPT:
                self._seen_trades.popitem(last=False)

    def _ingest_state(self, unit: UnitOfWork, state: OrderState) -> OutboxOrder | None:
        """Adopt the venue's status (fills are recorded separately) and fix the reservation."""
        cid, now = state.client_order_id, self.clock.now()
        status = state.status
        if status in (
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.NEW,
            OrderStatus.IN_FLIGHT,
        ):
            # Fill-driven statuses come from the recorded fills, which are authoritative here;
            # the venue knowing the order means at least "accepted".
            status = OrderStatus.ACCEPTED
        stored = self.outbox.mark(
            unit,
            cid,
            status,
            now=now,
            reason=state.reason,
            venue_order_id=state.venue_order_id,
            sent=True,
        )
        if stored is None:
            return None
        if stored.status.is_terminal:
            self.risk.release(cid)
        else:
            self.risk.set_filled(cid, stored.filled_quantity)
        return stored

    def _settle_unknown(self, unit: UnitOfWork, order: OutboxOrder) -> OutboxOrder | None:
        since = order.sent_at or order.created_at
        if self.clock.now() - since < self._grace:
            return None
        if order.status is OrderStatus.NEW:
            reason = "never reached the venue; abandoned at reconciliation, not sent late"
            status = OrderStatus.CANCELLED
        else:
            reason = "the venue does not know it: the request was lost"
            status = OrderStatus.REJECTED
        log.warning(
            "order_settled_unknown",
            client_order_id=order.client_order_id,
            status=status,
            reason=reason,
        )
        stored = self.outbox.mark(
            unit, order.client_order_id, status, now=self.clock.now(), reason=reason
        )
        self.risk.release(order.client_order_id)
        return stored

    # -- reading ------------------------------------------------------------------------------

    def order(self, client_order_id: str) -> OutboxOrder | None:
        return self.outbox.get(client_order_id)

    def open_orders(self) -> list[OutboxOrder]:
        return self.outbox.open_orders()

    def order_intent(self, client_order_id: str) -> dict[str, Any] | None:
        """What the outbox keeps of the order's plan (see OrderOutbox.intent_of)."""
        with self.ledger.unit() as unit:
            return self.outbox.intent_of(unit, client_order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        return self.outbox.fills(client_order_id)

    def fill_mark(self) -> FillMark:
        """What the book holds of the fills recorded so far, for a checkpoint of it taken
        now (see `fills_not_booked`)."""
        with self._handover_lock:
            with self.ledger.unit() as unit:
                through = self.outbox.last_fill_id(unit)
            with self._seen_lock:
                waiting = tuple(sorted(fill.trade_id for fill in self._unreported))
        return FillMark(through, waiting)

    def fills_not_booked(self, mark: FillMark) -> list[Fill]:
        """The fills a book checkpointed at `mark` lacks, in record order: those recorded
        after it and those that were still waiting to be handed over."""
        with self.ledger.unit() as unit:
            waiting = self.outbox.fills_with_trade_ids(unit, self.broker.venue, mark.waiting)
            return waiting + self.outbox.fills_after(unit, mark.through)


def _storable(child: ChildOrder) -> bool:
    order = child.order
    for value in (order.quantity, order.limit_price, order.stop_price, child.decision_price):
        if value is not None and not is_storable_decimal(value):
            return False
    return True
