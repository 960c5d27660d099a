"""The risk gate: every order is checked here, and every decision is recorded.

`check` runs the checks in order (see `quantgate.risk.checks`) under a lock held
in-process and in the database, so concurrent orders cannot jointly break a
limit: an allowed order reserves its exposure before the lock is released.
Business rejections are values (`RiskDecision` with a `DenyReason`), never
exceptions. Switches that only a person may turn off — the kill switch, the
daily loss latch, a disabled strategy — live in the database and survive a
restart; turning them off takes an explicit call that records who and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Engine

from quantgate.core.clock import Clock
from quantgate.core.enums import Mode
from quantgate.core.errors import ProgrammerError
from quantgate.core.types import Order
from quantgate.risk.checks import CHECKS, CheckInput
from quantgate.risk.checks.latches import loss_breach
from quantgate.risk.config import RiskLimits
from quantgate.risk.context import RiskContext
from quantgate.risk.decision import (
    DailyAnchor,
    Denial,
    Effect,
    RiskDecision,
    Verdict,
)
from quantgate.risk.memory import RiskMemory
from quantgate.risk.state import (
    DAILY_LOSS,
    GATE_ACTOR,
    GLOBAL_KEY,
    KILL_SWITCH,
    STRATEGY_DISABLED,
    RiskEvent,
    RiskStateStore,
    RiskStatus,
    StateChange,
    own_price,
)
from quantgate.storage.ledger import ScopeLedger, UnitOfWork

log = structlog.get_logger(__name__)

_ALLOWED = Verdict.ALLOWED  # a member looked up on its enum class costs a slow attribute lookup


class RiskGate:
    def __init__(
        self,
        engine: Engine,
        limits: RiskLimits,
        *,
        scope: str,
        clock: Clock,
        ledger: ScopeLedger | None = None,
    ) -> None:
        if ledger is not None and (ledger.engine is not engine or ledger.scope != scope):
            raise ProgrammerError(f"the ledger of scope {ledger.scope!r} is not this gate's")
        self.limits = limits
        self.scope = scope
        self.ledger = ledger or ScopeLedger(engine, scope)
        self._clock = clock
        self._store = RiskStateStore(self.ledger, limits)

    # -- the check ---------------------------------------------------------------------------

    def check(self, order: Order, context: RiskContext) -> RiskDecision:
        # Everything that can fail comes before the first change to the state: a gate that
        # raises inside the gateway's unit of work leaves nothing half written.
        with self.ledger.unit() as unit:
            now = self._clock.now()
            memory = self._store.memory(unit, now)
            anchor = _roll_anchor(memory.switches.daily_anchor, context.equity, now)
            snapshot = memory.snapshot(order, now, anchor)
            inputs = CheckInput(order, context, snapshot, self.limits)
            denial = _first_denial(inputs)
            if denial is None:
                return self._allow(unit, inputs, memory, anchor)
            return self._deny(unit, inputs, denial, memory, anchor)

    def _allow(
        self, unit: UnitOfWork, inputs: CheckInput, memory: RiskMemory, anchor: DailyAnchor | None
    ) -> RiskDecision:
        order, now = inputs.order, inputs.snapshot.now
        price = inputs.order_price()
        if price is None:  # reference_fresh guarantees a price; never reserve blind
            raise ProgrammerError(f"{order.client_order_id}: allowed without a price")
        detail = {"price": str(price), "notional": str(inputs.order_notional())}
        decision = RiskDecision(order.client_order_id, _ALLOWED, None, detail, now)
        self._save_rolled_anchor(unit, memory, anchor, now)
        # An allowed order logs nothing: its decision row is the record, and a log call per
        # order cost more than its decision in a long backtest.
        self._store.record_allowed(unit, order, decision, price)
        return decision

    def _deny(
        self,
        unit: UnitOfWork,
        inputs: CheckInput,
        denial: Denial,
        memory: RiskMemory,
        anchor: DailyAnchor | None,
    ) -> RiskDecision:
        order, now = inputs.order, inputs.snapshot.now
        price = _price_for_record(inputs)
        decision = RiskDecision(
            order.client_order_id, Verdict.DENIED, denial.reason, denial.detail, now
        )
        self._apply(unit, denial, order, now)  # the one step that writes at once
        self._save_rolled_anchor(unit, memory, anchor, now)
        self._store.record_decision(unit, order, decision, price)
        # Only after the unit: a failing log line must never roll back a latch.
        effect = denial.effect
        unit.after_unit(lambda: self._log_denial(order, decision, effect))
        return decision

    def _save_rolled_anchor(
        self, unit: UnitOfWork, memory: RiskMemory, anchor: DailyAnchor | None, now: datetime
    ) -> None:
        # _roll_anchor returns the anchor itself unless it rolled to a new day.
        if anchor is not memory.switches.daily_anchor:
            self._store.save_anchor(unit, anchor, now)

    def observe_equity(self, equity: Decimal) -> bool:
        """Roll the day's anchor and latch on a breached daily loss without waiting for an
        order; returns whether the latch is on. Call it once per bar."""
        with self.ledger.unit() as unit:
            now = self._clock.now()
            switches = self._store.memory(unit, now).switches
            anchor = _roll_anchor(switches.daily_anchor, equity, now)
            breach = None
            if not switches.daily_loss_latched:
                breach = loss_breach(anchor, equity, self.limits.max_daily_loss)
            if breach is not None:
                self._latch_daily_loss(unit, breach, now)
            if anchor != switches.daily_anchor:
                self._store.save_anchor(unit, anchor, now)
            if breach is None:
                return switches.daily_loss_latched
            unit.after_unit(
                lambda: log.error("daily_loss_latched", scope=self.scope, detail=breach)
            )
        return True

    # -- order lifecycle (called by the order gateway) ------------------------------------------

    def set_filled(self, client_order_id: str, filled_quantity: Decimal) -> None:
        """The order has `filled_quantity` filled in total: that part is now a position."""
        with self.ledger.unit() as unit:
            self._store.set_filled(unit, client_order_id, filled_quantity, self._clock.now())

    def release(self, client_order_id: str) -> None:
        """The order ended: what it had not filled stops counting toward the limits."""
        with self.ledger.unit() as unit:
            self._store.release(unit, client_order_id, self._clock.now())

    # -- operator controls: each is audited with who and why -----------------------------------

    def engage_kill_switch(self, *, actor: str, reason: str) -> None:
        self._change(KILL_SWITCH, GLOBAL_KEY, True, "engaged", actor, reason)

    def release_kill_switch(self, *, actor: str, reason: str) -> None:
        self._change(KILL_SWITCH, GLOBAL_KEY, False, "released", actor, reason)

    def reset_daily_loss(self, *, actor: str, reason: str) -> None:
        """Clear the latch and re-anchor the day at the next equity seen, so the loss that
        tripped it does not trip it again at once."""
        _require_person(actor, reason)
        with self.ledger.unit() as unit:
            now = self._clock.now()
            self._store.change(
                unit, StateChange(DAILY_LOSS, GLOBAL_KEY, False, "reset", actor, reason, {}), now
            )
            self._store.save_anchor(unit, None, now)

    def disable_strategy(self, strategy: str, *, actor: str, reason: str) -> None:
        self._change(STRATEGY_DISABLED, strategy, True, "disabled", actor, reason)

    def enable_strategy(self, strategy: str, *, actor: str, reason: str) -> None:
        self._change(STRATEGY_DISABLED, strategy, False, "enabled", actor, reason)

    def status(self) -> RiskStatus:
        with self.ledger.unit() as unit:
            return self._store.status(unit, self._clock.now())

    def events(self) -> list[RiskEvent]:
        with self.ledger.unit() as unit:
            return self._store.events(unit)

    # -- internals ---------------------------------------------------------------------------

    def _change(
        self, kind: str, key: str, active: bool, action: str, actor: str, reason: str
    ) -> None:
        _require_person(actor, reason)
        with self.ledger.unit() as unit:
            now = self._clock.now()
            self._store.change(unit, StateChange(kind, key, active, action, actor, reason, {}), now)
        log.warning(
            "risk_state_changed",
            scope=self.scope,
            kind=kind,
            key=key,
            action=action,
            actor=actor,
            reason=reason,
        )

    def _apply(self, unit: UnitOfWork, denial: Denial, order: Order, now: datetime) -> None:
        if denial.effect is Effect.LATCH_DAILY_LOSS:
            self._latch_daily_loss(unit, denial.detail, now)
        elif denial.effect is Effect.DISABLE_STRATEGY:
            change = StateChange(
                STRATEGY_DISABLED,
                order.strategy,
                True,
                "disabled",
                GATE_ACTOR,
                "repeated executions: "
                f"{denial.detail.get('executions_in_window')} allowed orders for "
                f"{order.instrument.symbol} within {self.limits.execution_window_seconds:.0f} s",
                denial.detail,
            )
            self._store.change(unit, change, now)

    def _latch_daily_loss(self, unit: UnitOfWork, detail: Mapping[str, Any], now: datetime) -> None:
        reason = f"daily loss {detail['loss']} reached the limit {detail['limit']}"
        change = StateChange(DAILY_LOSS, GLOBAL_KEY, True, "latched", GATE_ACTOR, reason, detail)
        self._store.change(unit, change, now)

    def _log_denial(self, order: Order, decision: RiskDecision, effect: Effect | None) -> None:
        if effect is Effect.LATCH_DAILY_LOSS:
            log.error("daily_loss_latched", scope=self.scope, detail=dict(decision.detail))
        elif effect is Effect.DISABLE_STRATEGY:
            log.error(
                "strategy_disabled",
                scope=self.scope,
                strategy=order.strategy,
                detail=dict(decision.detail),
            )
        # A backtest's denials are counted in its metrics (engine.denials) and kept in
        # risk_gate_decisions; a console line each buried its progress bar. Paper and live
        # denials are an operator's business as they happen.
        emit = log.debug if order.mode is Mode.BACKTEST else log.info
        emit(
            "risk_denied",
            scope=self.scope,
            client_order_id=order.client_order_id,
            strategy=order.strategy,
            symbol=order.instrument.symbol,
            reason=decision.reason,
        )


def _first_denial(inputs: CheckInput) -> Denial | None:
    for check in CHECKS:
        denial = check(inputs)
        if denial is not None:
            return denial
    return None


def _price_for_record(inputs: CheckInput) -> Decimal | None:
    """The price to record with a denial; a malformed order may have none worth computing."""
    price = own_price(inputs.order)
    if price is not None:
        return price
    try:
        return inputs.order_price()
    except ArithmeticError:
        return None


def _roll_anchor(
    anchor: DailyAnchor | None, equity: Decimal | None, now: datetime
) -> DailyAnchor | None:
    """The first equity seen on each UTC day anchors that day's loss."""
    if equity is None or not equity.is_finite():
        return anchor
    today = now.date()
    if anchor is None or anchor.day != today:
        return DailyAnchor(today, equity)
    return anchor


def _require_person(actor: str, reason: str) -> None:
    if not actor.strip() or not reason.strip():
        raise ProgrammerError("a risk state change needs a named actor and a reason")
