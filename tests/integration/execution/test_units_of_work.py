"""The gateway and the gate write in shared units of work and read from memory: orders are in
the database before the broker sees them, memory follows what other processes write, a
failed unit leaves nothing behind, and a batch meets the circuit breaker as single orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session
from trading_rig import (
    BTC,
    ETH,
    LIMITS,
    NOW,
    SCOPE,
    CountingBroker,
    child_of,
    context,
    limit_order,
    make_rig,
    market,
    next_bar,
)

from quantgate.core import (
    DenyReason,
    Order,
    OrderStatus,
    ProgrammerError,
    SimulatedClock,
)
from quantgate.execution import (
    CircuitBreakerConfig,
    GatewayConfig,
    OrderGateway,
    SimulatedBroker,
    StandardCostModel,
    SubmitResult,
    SubmitStatus,
    TimeInForce,
)
from quantgate.execution.gateway import Submission
from quantgate.risk import RiskContext, RiskGate
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.ledger import Durability, ScopeLedger
from quantgate.storage.models import (
    ExecutionTraceRow,
    FillRow,
    OrderRow,
    RiskGateDecisionRow,
    RiskReservationRow,
)

D = Decimal


def stored(engine: Engine, model: type, client_order_id: str) -> int:
    """Rows of `model` for the id, as another connection (another process) sees them."""
    with Session(engine) as session:
        query = (
            select(func.count())
            .select_from(model)
            .where(
                model.client_order_id == client_order_id  # type: ignore[attr-defined]
            )
        )
        return int(session.scalar(query) or 0)


class WitnessBroker(CountingBroker):
    """Looks into the database at the moment an order reaches the venue."""

    def __init__(self, inner: SimulatedBroker, look: Any) -> None:
        super().__init__(inner)
        self.look = look
        self.seen: list[tuple[str, Any]] = []

    def submit(self, order: Order, *, time_in_force: TimeInForce = TimeInForce.GTC) -> SubmitResult:
        self.seen.append((order.client_order_id, self.look(order.client_order_id)))
        return super().submit(order, time_in_force=time_in_force)


def test_each_unit_commits_before_the_broker_sees_the_order(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)

    def committed(cid: str) -> tuple[int, int]:
        return stored(engine, OrderRow, cid), stored(engine, RiskGateDecisionRow, cid)

    rig = make_rig(engine)
    witness = WitnessBroker(rig.broker.inner, committed)
    gateway: OrderGateway[RiskContext] = OrderGateway(
        engine, witness, rig.gate, rig.cost_model, scope=SCOPE, clock=rig.clock
    )
    orders = [limit_order("w1"), limit_order("w2", ETH)]
    results = gateway.submit_many(
        [Submission(child_of(o), context(), market(o.instrument.symbol)) for o in orders]
    )
    assert [r.status for r in results] == [SubmitStatus.SENT, SubmitStatus.SENT]
    # Both outbox rows and both decisions were durable before the first send.
    assert witness.seen == [("w1", (1, 1)), ("w2", (1, 1))]
    engine.dispose()


def test_a_backtest_unit_has_the_order_in_its_transaction_before_the_send(
    sqlite_url: str,
) -> None:
    engine = create_db_engine(sqlite_url)
    upgrade(engine)
    clock = SimulatedClock(limit_order("x").created_at)
    ledger = ScopeLedger(engine, SCOPE, durability=Durability.AT_COMMIT)

    def in_transaction(cid: str) -> int:
        with ledger.unit() as unit:
            query = (
                select(func.count()).select_from(OrderRow).where(OrderRow.client_order_id == cid)
            )
            return int(unit.execute(query).scalar_one())

    gate = RiskGate(engine, LIMITS, scope=SCOPE, clock=clock, ledger=ledger)
    cost_model = StandardCostModel()
    witness = WitnessBroker(SimulatedBroker(clock, cost_model), in_transaction)
    gateway: OrderGateway[RiskContext] = OrderGateway(
        engine, witness, gate, cost_model, scope=SCOPE, clock=clock
    )
    assert gateway.submit(child_of(limit_order("b1")), context(), market()).status is (
        SubmitStatus.SENT
    )
    assert witness.seen == [("b1", 1)]
    # Not committed yet: the checkpoint is a backtest's recovery point, not each order.
    assert stored(engine, OrderRow, "b1") == 0
    gateway.commit()
    assert stored(engine, OrderRow, "b1") == 1
    assert stored(engine, RiskGateDecisionRow, "b1") == 1
    engine.dispose()


def test_memory_follows_what_another_process_writes(database_url: str) -> None:
    here = make_rig(database_url)
    there = make_rig(database_url, clock=here.clock)  # own engine, own memory: a process
    first = here.gateway.submit(child_of(limit_order("m1", quantity="0.2")), context(), market())
    assert first.status is SubmitStatus.SENT

    # The other process's outbox knows the id; its gate counts the reservation.
    again = there.gateway.submit(child_of(limit_order("m1", quantity="0.2")), context(), market())
    assert again.status is SubmitStatus.DUPLICATE and there.broker.submit_calls == 0
    assert [r.client_order_id for r in there.gate.status().reservations] == ["m1"]
    # 8 000 reserved by the first process + 10 000 + 4 000 here > the 20 000 symbol limit.
    fits = there.gateway.submit(
        child_of(limit_order("m2", quantity="0.25", strategy="s2")), context(), market()
    )
    assert fits.status is SubmitStatus.SENT
    over = there.gateway.submit(
        child_of(limit_order("m3", quantity="0.1", strategy="s3")), context(), market()
    )
    assert over.deny_reason is DenyReason.MAX_POSITION_SYMBOL
    there.gate.engage_kill_switch(actor="carol", reason="drill")
    late = here.gateway.submit(child_of(limit_order("m4", ETH)), context(), market("ETHUSDT"))
    assert late.deny_reason is DenyReason.KILL_SWITCH
    here.engine.dispose()
    there.engine.dispose()


def test_a_failed_unit_leaves_neither_rows_nor_memory(database_url: str) -> None:
    rig = make_rig(database_url)
    with pytest.raises(RuntimeError), rig.gate.ledger.unit():
        assert rig.gate.check(limit_order("f1"), context()).allowed
        assert [r.client_order_id for r in rig.gate.status().reservations] == ["f1"]
        raise RuntimeError("the process dies before the unit ends")
    assert rig.gate.status().reservations == ()
    assert rig.decisions("f1") == []
    # The same order is judged afresh: no duplicate of a decision that never was.
    assert rig.gate.check(limit_order("f1"), context()).allowed
    rig.engine.dispose()


def test_a_backtest_transaction_that_fails_cannot_be_carried_on(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    upgrade(engine)
    ledger = ScopeLedger(engine, SCOPE, durability=Durability.AT_COMMIT)
    with pytest.raises(RuntimeError), ledger.unit():
        raise RuntimeError("boom")
    with pytest.raises(ProgrammerError, match="resume from the last checkpoint"), ledger.unit():
        pass
    engine.dispose()


def test_throttles_count_the_decisions_made_before_a_restart(database_url: str) -> None:
    rig = make_rig(database_url)
    for index in range(3):
        order = limit_order(f"r{index}", quantity=f"0.0{index + 1}", strategy=f"s{index}")
        assert rig.gate.check(order, context()).allowed
    rig.engine.dispose()

    restarted = make_rig(database_url, clock=rig.clock)
    repeat = restarted.gate.check(limit_order("r9", quantity="0.01", strategy="s0"), context())
    assert repeat.reason is DenyReason.DUPLICATE_ORDER and repeat.detail["duplicate_of"] == "r0"
    for index in (3, 4):
        order = limit_order(f"r{index}", quantity=f"0.0{index + 1}", strategy=f"s{index}")
        assert restarted.gate.check(order, context()).allowed
    over = restarted.gate.check(limit_order("r5", quantity="0.06", strategy="s5"), context())
    assert over.reason is DenyReason.ORDER_RATE and over.detail["orders_in_window"] == 5
    restarted.clock.advance_by(timedelta(seconds=61))
    later = restarted.gate.check(limit_order("r6", quantity="0.07", strategy="s6"), context())
    assert later.allowed
    restarted.engine.dispose()


def test_a_batch_meets_the_circuit_breaker_as_single_orders_would(database_url: str) -> None:
    config = GatewayConfig(circuit=CircuitBreakerConfig(failure_threshold=2, cooldown_seconds=60))
    rig = make_rig(database_url, gateway_config=config)
    rig.broker.transient_failures = 10
    orders = [
        limit_order(f"c{index}", BTC, quantity=f"0.0{index + 1}", strategy=f"s{index}")
        for index in range(4)
    ]
    results = rig.gateway.submit_many(
        [Submission(child_of(order), context(), market()) for order in orders]
    )
    assert [r.status for r in results] == [
        SubmitStatus.REJECTED,
        SubmitStatus.REJECTED,
        SubmitStatus.REFUSED,
        SubmitStatus.REFUSED,
    ]
    assert rig.broker.submit_calls == 2
    # Refused children were never stored: the same children may come back later.
    assert rig.gateway.order("c2") is None and rig.decisions("c2") == []
    assert rig.gate.status().reservations == ()
    rig.engine.dispose()


def test_a_gate_that_fails_keeps_its_order_from_the_broker(database_url: str) -> None:
    class GateDownError(RuntimeError):
        pass

    rig = make_rig(database_url)
    healthy = rig.gate.check

    def check(order: Order, ctx: RiskContext) -> Any:
        if order.client_order_id == "g2":
            raise GateDownError("the gate's database went away")
        return healthy(order, ctx)

    rig.gate.check = check  # type: ignore[method-assign]
    orders = [limit_order("g1"), limit_order("g2", ETH), limit_order("g3", ETH, strategy="x")]
    with pytest.raises(GateDownError):
        rig.gateway.submit_many(
            [Submission(child_of(o), context(), market(o.instrument.symbol)) for o in orders]
        )
    assert rig.broker.submit_calls == 1  # g1, decided before the failure, went out
    failed, after = rig.gateway.order("g2"), rig.gateway.order("g3")
    assert failed is not None and failed.reason == "risk gate failed"
    assert after is not None and after.reason == "risk gate failed (on g2)"
    assert failed.status is after.status is OrderStatus.REJECTED
    assert [d.client_order_id for d in rig.decisions()] == ["g1"]
    rig.engine.dispose()


def _trade_and_dump(
    engine: Engine, durability: Durability
) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """Submit two orders, fill one fully and one partly, replay the fills, commit; return
    every trading row as another connection reads it (autoincrement ids left out), and
    how many UPDATE statements reached the orders table."""
    upgrade(engine)
    updates = 0

    def count_updates(*args: Any) -> None:
        nonlocal updates
        updates += str(args[2]).startswith("UPDATE orders")

    event.listen(engine, "before_cursor_execute", count_updates)
    clock = SimulatedClock(NOW)
    ledger = ScopeLedger(engine, SCOPE, durability=durability)
    cost_model = StandardCostModel()
    gate = RiskGate(engine, LIMITS, scope=SCOPE, clock=clock, ledger=ledger)
    broker = CountingBroker(SimulatedBroker(clock, cost_model))
    gateway: OrderGateway[RiskContext] = OrderGateway(
        engine, broker, gate, cost_model, scope=SCOPE, clock=clock
    )
    # Warm the caches first, as a running backtest has them: a read flushes what is queued.
    gateway.reconcile()
    gate.status()
    results = gateway.submit_many(
        [
            Submission(child_of(limit_order("w1")), context(), market()),
            Submission(
                child_of(limit_order("w2", ETH, quantity="3")), context(), market("ETHUSDT")
            ),
        ]
    )
    assert [r.status for r in results] == [SubmitStatus.SENT, SubmitStatus.SENT]
    clock.advance_by(timedelta(hours=1))
    broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    broker.on_bar(next_bar("ETHUSDT", open=2_490, low=2_480, high=2_495, volume=20.0))
    fills = gateway.reconcile().fills
    assert fills
    for fill in fills:
        assert not gateway.on_fill(fill)  # a replay is stored once, on both paths
    gateway.commit()
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with Session(engine) as session:
        for model in (
            OrderRow,
            FillRow,
            ExecutionTraceRow,
            RiskGateDecisionRow,
            RiskReservationRow,
        ):
            table = model.__table__  # type: ignore[attr-defined]
            columns = [c for c in table.columns if c.name != "id"]
            dump[table.name] = sorted(tuple(row) for row in session.execute(select(*columns)).all())
    engine.dispose()
    return dump, updates


def test_a_backtest_writes_at_commit_exactly_what_per_unit_writes(tmp_path: Any) -> None:
    """The deferred path (one row per order in its last state, trade ids checked in memory)
    and the per-unit path (insert, then updates) leave the same rows behind."""
    per_unit, per_unit_updates = _trade_and_dump(
        create_db_engine(f"sqlite:///{tmp_path / 'per_unit.db'}"), Durability.PER_UNIT
    )
    at_commit, at_commit_updates = _trade_and_dump(
        create_db_engine(f"sqlite:///{tmp_path / 'at_commit.db'}"), Durability.AT_COMMIT
    )
    assert per_unit == at_commit
    assert per_unit_updates > 0
    assert at_commit_updates == 0  # each order was inserted once, as it ended up
    statuses = {row[0]: row for row in per_unit["orders"]}
    assert {cid: row[12] for cid, row in statuses.items()} == {
        "w1": "filled",
        "w2": "partially_filled",
    }
    assert len(per_unit["fills"]) == len(per_unit["execution_trace"]) == 2
