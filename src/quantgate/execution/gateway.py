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

Fills come in through `on_fill` (push) or `reconcile` (poll); both de-duplicate
by venue trade id in the database, update the order, shrink its risk
reservation and write the execution trace.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

import structlog
from sqlalchemy import Engine

from quantgate.core.clock import Clock
from quantgate.core.enums import DenyReason, OrderStatus
from quantgate.core.errors import ProgrammerError, QuantgateError, TemporaryError
from quantgate.core.types import Fill
from quantgate.execution.brokers.base import (
    Broker,
    BrokerError,
    OrderState,
    SubmitOutcome,
    SubmitResult,
)
from quantgate.execution.circuit import CircuitBreaker
from quantgate.execution.config import GatewayConfig
from quantgate.execution.costs import CostBreakdown, CostModel, MarketContext
from quantgate.execution.intent import ChildOrder
from quantgate.execution.outbox import OrderOutbox, OutboxOrder
from quantgate.execution.risk_port import RiskPort
from quantgate.storage.checkpoints import Checkpoints

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


@dataclass(frozen=True, slots=True)
class GatewayResult:
    status: SubmitStatus
    client_order_id: str
    order: OutboxOrder | None = None
    reason: str | None = None
    deny_reason: DenyReason | None = None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """New fills (apply them to the book in this order) and orders whose status changed."""

    fills: tuple[Fill, ...] = ()
    settled: tuple[OutboxOrder, ...] = field(default_factory=tuple)


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
        self.config = config or GatewayConfig()
        self.broker = broker
        self.risk = risk
        self.cost_model = cost_model
        self.scope = scope
        self.clock = clock
        self.outbox = OrderOutbox(engine, scope)
        self.breaker = CircuitBreaker(clock, self.config.circuit)
        self._grace = timedelta(seconds=self.config.unknown_grace_seconds)
        self._cursors = Checkpoints(engine, job=f"fill_cursor:{scope}")
        self._reconcile_lock = threading.Lock()
        # Venues repeat fills (order queries list them all, polling windows overlap); this
        # spares the database a failing insert for each repeat this process has seen.
        self._seen_trades: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._seen_lock = threading.Lock()

    # -- sending ----------------------------------------------------------------------------

    def submit(
        self, child: ChildOrder, risk_context: ContextT, market: MarketContext
    ) -> GatewayResult:
        """Send one child order through the outbox, the circuit breaker and the risk gate."""
        if child.scope != self.scope:
            raise ProgrammerError(f"child of scope {child.scope!r} sent to gateway {self.scope!r}")
        cid = child.client_order_id
        existing = self.outbox.get(cid)
        if existing is not None:
            return GatewayResult(SubmitStatus.DUPLICATE, cid, existing, "already in the outbox")
        permit = self.breaker.acquire()
        if permit is None:
            retry_at = self.breaker.retry_at()
            reason = "circuit open" + (f" until {retry_at.isoformat()}" if retry_at else "")
            return GatewayResult(SubmitStatus.REFUSED, cid, None, reason)
        try:
            outcome = self._persist_and_check(child, risk_context, market)
        except BaseException:
            self.breaker.release_unused(permit)
            raise
        if outcome is not None:
            # Nothing reached the broker, so a half-open probe is still unused.
            self.breaker.release_unused(permit)
            return outcome
        return self._send(child)

    def _persist_and_check(
        self, child: ChildOrder, risk_context: ContextT, market: MarketContext
    ) -> GatewayResult | None:
        """Store the order and ask the risk gate; None means: allowed, go and send it."""
        order, cid, now = child.order, child.client_order_id, self.clock.now()
        if not _storable(child):
            return self._deny_unstorable(child, risk_context)
        arrival = market.mid if market.mid is not None else child.decision_price
        estimate = self._estimate(child, arrival, market)
        stored = self.outbox.insert(
            child, venue=self.broker.venue, arrival_mid=market.mid, estimate=estimate, now=now
        )
        if stored is None:  # another thread stored the same id a moment ago
            return GatewayResult(
                SubmitStatus.DUPLICATE, cid, self.outbox.get(cid), "already in the outbox"
            )
        try:
            verdict = self.risk.check(order, risk_context)
        except Exception:
            # Fail closed: without a decision the order must not go out.
            self.outbox.mark(cid, OrderStatus.REJECTED, now=now, reason="risk gate failed")
            raise
        if verdict.allowed:
            return None
        reason = f"risk: {verdict.reason.value if verdict.reason else 'denied'}"
        stored = self.outbox.mark(cid, OrderStatus.REJECTED, now=now, reason=reason)
        return GatewayResult(SubmitStatus.DENIED, cid, stored, reason, verdict.reason)

    def _estimate(
        self, child: ChildOrder, arrival: Decimal, market: MarketContext
    ) -> CostBreakdown:
        order = child.order
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

    def _send(self, child: ChildOrder) -> GatewayResult:
        cid = child.client_order_id
        try:
            result = self.broker.submit(child.order, time_in_force=child.time_in_force)
        except (TemporaryError, BrokerError) as error:
            # The broker promises these mean the order never reached the venue.
            self.breaker.record_failure()
            log.warning("submit_failed", client_order_id=cid, error=str(error))
            return self._rejected(cid, f"{type(error).__name__}: {error.message}")
        except Exception as error:
            # Anything else: we cannot know whether it got there. Keep it in flight.
            self.breaker.record_failure()
            log.exception("submit_outcome_unknown", client_order_id=cid)
            return self._in_flight(cid, f"unexpected {type(error).__name__}: {error}")
        return self._record_outcome(cid, result)

    def _record_outcome(self, cid: str, result: SubmitResult) -> GatewayResult:
        now = self.clock.now()
        if result.outcome is SubmitOutcome.ACCEPTED:
            self.breaker.record_success()
            stored = self.outbox.mark(
                cid, OrderStatus.ACCEPTED, now=now, venue_order_id=result.venue_order_id, sent=True
            )
            return GatewayResult(SubmitStatus.SENT, cid, stored)
        if result.outcome is SubmitOutcome.REJECTED:
            # The venue answered: the connection works even if it did not like the order.
            self.breaker.record_success()
            return self._rejected(cid, f"venue: {result.reason}")
        self.breaker.record_failure()
        return self._in_flight(cid, f"unknown outcome: {result.reason}")

    def _rejected(self, cid: str, reason: str) -> GatewayResult:
        stored = self.outbox.mark(cid, OrderStatus.REJECTED, now=self.clock.now(), reason=reason)
        self.risk.release(cid)
        return GatewayResult(SubmitStatus.REJECTED, cid, stored, reason)

    def _in_flight(self, cid: str, reason: str) -> GatewayResult:
        stored = self.outbox.mark(
            cid, OrderStatus.IN_FLIGHT, now=self.clock.now(), reason=reason, sent=True
        )
        return GatewayResult(SubmitStatus.IN_FLIGHT, cid, stored, reason)

    # -- cancelling ---------------------------------------------------------------------------

    def cancel(self, client_order_id: str) -> OutboxOrder | None:
        """Cancel what is left of an order at the venue; broker errors propagate."""
        state = self.broker.cancel(client_order_id)
        if state is None:
            return self.outbox.get(client_order_id)
        self._ingest_state(state)
        return self.outbox.get(client_order_id)

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
        """Record one fill; False when its trade id was seen before (nothing changes then)."""
        key = (self.broker.venue, fill.trade_id)
        if key in self._seen_trades:
            # A shortcut only: the database's unique (venue, trade id) is what guarantees once.
            return False
        new, order = self.outbox.record_fill(fill, venue=self.broker.venue, now=self.clock.now())
        self._remember(key)
        if not new:
            return False
        if order is None:
            log.error(
                "fill_for_unknown_order",
                trade_id=fill.trade_id,
                client_order_id=fill.client_order_id,
            )
            return True
        if order.status.is_terminal:
            self.risk.release(order.client_order_id)
        else:
            self.risk.set_filled(order.client_order_id, order.filled_quantity)
        return True

    def _remember(self, key: tuple[str, str]) -> None:
        with self._seen_lock:
            self._seen_trades[key] = None
            while len(self._seen_trades) > _SEEN_TRADES_KEPT:
                self._seen_trades.popitem(last=False)

    def reconcile(self) -> ReconcileReport:
        """Pull new fills and settle every open order with the venue's view of it.

        Call once per bar (after `broker.on_bar`) and at start-up. Orders the venue
        does not know are left alone for `unknown_grace_seconds` after they were
        stored, then declared never-sent (NEW) or lost (IN_FLIGHT) and released.
        """
        with self._reconcile_lock:
            fills = list(self._pull_fills())
            settled: list[OutboxOrder] = []
            for order in self.outbox.open_orders():
                try:
                    state = self.broker.query(order.client_order_id)
                except QuantgateError as error:
                    log.warning(
                        "query_failed", client_order_id=order.client_order_id, error=str(error)
                    )
                    continue
                if state is None:
                    changed = self._settle_unknown(order)
                else:
                    fills.extend(f for f in state.fills if self.on_fill(f))
                    changed = self._ingest_state(state)
                if changed is not None and changed.status != order.status:
                    settled.append(changed)
            return ReconcileReport(tuple(fills), tuple(settled))

    def _pull_fills(self) -> list[Fill]:
        venue = self.broker.venue
        saved = self._cursors.get(venue)
        cursor = None if saved is None else saved.get("cursor")
        try:
            batch = self.broker.fills_since(cursor)
        except QuantgateError as error:
            log.warning("fills_since_failed", error=str(error))
            return []
        new = [fill for fill in batch.fills if self.on_fill(fill)]
        if batch.cursor != cursor:
            self._cursors.put(venue, {"cursor": batch.cursor})
        return new

    def _ingest_state(self, state: OrderState) -> OutboxOrder | None:
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

    def _settle_unknown(self, order: OutboxOrder) -> OutboxOrder | None:
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
            order.client_order_id, status, now=self.clock.now(), reason=reason
        )
        self.risk.release(order.client_order_id)
        return stored

    # -- reading ------------------------------------------------------------------------------

    def order(self, client_order_id: str) -> OutboxOrder | None:
        return self.outbox.get(client_order_id)

    def open_orders(self) -> list[OutboxOrder]:
        return self.outbox.open_orders()

    def fills(self, client_order_id: str) -> list[Fill]:
        return self.outbox.fills(client_order_id)


def _storable(child: ChildOrder) -> bool:
    order = child.order
    values = (order.quantity, order.limit_price, order.stop_price, child.decision_price)
    return all(value is None or value.is_finite() for value in values)
