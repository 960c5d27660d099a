"""The slices of one TWAP plan are the same order by design (equal quantities at one limit):
released closer together than the duplicate window, each goes through, also after a restart
in the middle of the plan. The same order from another intent is still a duplicate."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from trading_rig import BTC, LIMITS, NOW, Rig, context, make_rig, market

from quantgate.core import DenyReason, Horizon, Mode, SimulatedClock
from quantgate.execution import (
    ChildOrder,
    ExecutionIntent,
    ExecutionPlan,
    LongHorizonConfig,
    LongHorizonExec,
    SubmitStatus,
)

D = Decimal
# Room for a whole plan in the repeated-execution throttle (the rig allows 3 a day).
ROOMY = LIMITS.model_copy(update={"max_executions_per_strategy_symbol": 50})
# Six slices over five minutes: one every 50 s, inside the rig's 60 s duplicate window.
POLICY = LongHorizonExec(LongHorizonConfig(slices=6, window_seconds={Horizon.D1: 300}))


def plan(decision_time: datetime = NOW) -> ExecutionPlan:
    intent = ExecutionIntent(
        "test", "mom", BTC, D(0), D("0.12"), decision_time, D(40_000), Horizon.D1, Mode.PAPER
    )
    return POLICY.plan(intent)


def submit(rig: Rig, child: ChildOrder) -> DenyReason | None:
    if child.release_at > rig.clock.now():
        rig.clock.advance_to(child.release_at)
    result = rig.gateway.submit(child, context(at=rig.clock.now()), market())
    assert result.status in (SubmitStatus.SENT, SubmitStatus.DENIED)
    return result.deny_reason


def test_a_plans_slices_are_no_duplicates_of_each_other(database_url: str) -> None:
    children = plan().children
    assert len({(c.order.quantity, c.order.limit_price) for c in children}) == 1
    rig = make_rig(database_url, limits=ROOMY, clock=SimulatedClock(NOW))
    assert [submit(rig, child) for child in children[:3]] == [None] * 3
    rig.engine.dispose()

    restarted = make_rig(database_url, limits=ROOMY, clock=rig.clock, broker=rig.broker)
    assert [submit(restarted, child) for child in children[3:]] == [None] * 3
    rows = [(r.client_order_id, r.decision, r.reason) for r in restarted.decisions()]
    assert rows == [(child.client_order_id, "allowed", None) for child in children]
    assert restarted.broker.submit_calls == 6
    restarted.engine.dispose()


def test_the_same_order_from_another_intent_is_still_a_duplicate(database_url: str) -> None:
    rig = make_rig(database_url, limits=ROOMY, clock=SimulatedClock(NOW))
    first = plan().children[0]
    assert submit(rig, first) is None
    # A decision 30 s later wants the same again: the same content within the window.
    other = plan(NOW + timedelta(seconds=30)).children[0]
    assert other.order.quantity == first.order.quantity
    assert other.order.limit_price == first.order.limit_price
    assert submit(rig, other) is DenyReason.DUPLICATE_ORDER
    (row,) = rig.decisions(other.client_order_id)
    assert (row.decision, row.reason) == ("denied", "duplicate_order")
    assert row.detail == {"duplicate_of": first.client_order_id}
    assert rig.broker.submit_calls == 1
    rig.engine.dispose()


def test_every_slice_counts_toward_the_repeated_execution_throttle(database_url: str) -> None:
    # A plan of more slices within the window than the throttle allows (3 here, 50 by
    # default, against up to 500 slices) disables its strategy part-way: size them together.
    rig = make_rig(database_url, clock=SimulatedClock(NOW))
    reasons = [submit(rig, child) for child in plan().children]
    assert reasons == [None] * 3 + [DenyReason.STRATEGY_DISABLED] * 3
    rig.engine.dispose()
