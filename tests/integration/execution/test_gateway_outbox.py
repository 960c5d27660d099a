"""The order gateway: idempotent retries, persist before send, unknown outcomes, fill
de-duplication in the database, and the circuit breaker."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from trading_rig import (
    BTC,
    NOW,
    SimulatedCrash,
    child_of,
    context,
    limit_order,
    make_rig,
    market,
    next_bar,
)

from quantgate.core import Horizon, Mode, OrderStatus
from quantgate.execution import (
    CircuitBreakerConfig,
    CircuitState,
    ExecutionIntent,
    GatewayConfig,
    PolicyBook,
    SubmitStatus,
    TimeInForce,
)
from quantgate.storage.models import ExecutionTraceRow, FillRow, OrderRow

D = Decimal


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_retried_intent_has_the_same_id_and_reaches_the_broker_once(database_url: str) -> None:
    rig = make_rig(database_url)
    intent = ExecutionIntent(
        "test", "mom", BTC, D(0), D("0.1"), NOW, D(40_000), Horizon.H1, Mode.PAPER
    )
    first = PolicyBook().plan(intent).children[0]
    retry = PolicyBook().plan(intent).children[0]  # e.g. re-planned after a restart
    assert first.client_order_id == retry.client_order_id

    assert rig.gateway.submit(first, context(), market()).status is SubmitStatus.SENT
    again = rig.gateway.submit(retry, context(), market())
    assert again.status is SubmitStatus.DUPLICATE
    assert again.order is not None and again.order.status is OrderStatus.ACCEPTED
    assert rig.broker.submit_calls == 1
    assert len(rig.decisions()) == 1  # the retry did not even reach the gate
    rig.engine.dispose()


def test_a_crash_between_persist_and_send_is_settled_by_reconciliation(
    database_url: str,
) -> None:
    rig = make_rig(database_url)
    rig.broker.crash_before_venue = True
    with pytest.raises(SimulatedCrash):
        rig.gateway.submit(child_of(limit_order("c1")), context(), market())
    rig.engine.dispose()

    rig.broker.crash_before_venue = False
    restarted = make_rig(database_url, clock=rig.clock, broker=rig.broker)
    stored = restarted.gateway.order("c1")
    assert stored is not None and stored.status is OrderStatus.NEW  # persisted before send
    assert [r.client_order_id for r in restarted.gate.status().reservations] == ["c1"]

    restarted.gateway.reconcile()  # the venue does not know it, but it is too early to say
    assert restarted.gateway.order("c1").status is OrderStatus.NEW  # type: ignore[union-attr]
    restarted.clock.advance_by(timedelta(seconds=301))
    report = restarted.gateway.reconcile()
    (settled,) = report.settled
    assert settled.status is OrderStatus.CANCELLED and "never reached the venue" in (
        settled.reason or ""
    )
    assert restarted.gate.status().reservations == ()
    # Never sent late, and the same intent is not sent again either.
    again = restarted.gateway.submit(child_of(limit_order("c1")), context(), market())
    assert again.status is SubmitStatus.DUPLICATE
    assert rig.broker.inner.query("c1") is None
    assert rig.broker.submit_calls == 1  # only the call that crashed
    restarted.engine.dispose()


def test_a_crash_after_the_venue_took_the_order_is_adopted_by_reconciliation(
    database_url: str,
) -> None:
    rig = make_rig(database_url)
    rig.broker.crash_after_venue = True
    with pytest.raises(SimulatedCrash):
        rig.gateway.submit(child_of(limit_order("c2")), context(), market())
    rig.engine.dispose()

    rig.broker.crash_after_venue = False
    restarted = make_rig(database_url, clock=rig.clock, broker=rig.broker)
    (settled,) = restarted.gateway.reconcile().settled
    assert settled.status is OrderStatus.ACCEPTED and settled.venue_order_id == "sim-1"

    restarted.clock.advance_by(timedelta(hours=1))
    restarted.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    report = restarted.gateway.reconcile()
    assert [f.client_order_id for f in report.fills] == ["c2"]
    assert restarted.gateway.order("c2").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert restarted.gate.status().reservations == ()
    restarted.engine.dispose()


def test_an_unknown_outcome_stays_in_flight_until_a_query_settles_it(database_url: str) -> None:
    rig = make_rig(database_url)
    rig.broker.lose_responses = True
    result = rig.gateway.submit(child_of(limit_order("u1")), context(), market())
    assert result.status is SubmitStatus.IN_FLIGHT
    rig.broker.lose_responses = False
    # A retry of the same intent must not send it again: it may well be at the venue.
    assert rig.gateway.submit(child_of(limit_order("u1")), context(), market()).status is (
        SubmitStatus.DUPLICATE
    )
    assert rig.broker.submit_calls == 1
    assert rig.gateway.order("u1").status is OrderStatus.IN_FLIGHT  # type: ignore[union-attr]
    assert [r.client_order_id for r in rig.gate.status().reservations] == ["u1"]

    (settled,) = rig.gateway.reconcile().settled  # the query finds it at the venue
    assert settled.status is OrderStatus.ACCEPTED
    assert rig.broker.query_calls == 1
    rig.engine.dispose()


def test_a_lost_request_is_declared_lost_only_after_the_grace_period(database_url: str) -> None:
    rig = make_rig(database_url, gateway_config=GatewayConfig(unknown_grace_seconds=60))
    rig.broker.lose_requests = True
    assert rig.gateway.submit(child_of(limit_order("u2")), context(), market()).status is (
        SubmitStatus.IN_FLIGHT
    )
    assert rig.gateway.reconcile().settled == ()
    assert rig.gateway.order("u2").status is OrderStatus.IN_FLIGHT  # type: ignore[union-attr]
    rig.clock.advance_by(timedelta(seconds=60))
    (settled,) = rig.gateway.reconcile().settled
    assert settled.status is OrderStatus.REJECTED and "request was lost" in (settled.reason or "")
    assert rig.gate.status().reservations == ()
    assert rig.broker.submit_calls == 1
    rig.engine.dispose()


def test_replayed_fills_are_stored_once(database_url: str) -> None:
    rig = make_rig(database_url)
    rig.gateway.submit(child_of(limit_order("f1")), context(), market())
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    (fill,) = rig.gateway.reconcile().fills
    assert rig.gateway.reconcile().fills == ()  # the fill cursor moved on; the order is done

    assert not rig.gateway.on_fill(fill)

    # After a restart the venue replays its history from many threads at once: nothing
    # in memory knows these trades, the database's unique key turns every replay away.
    restarted = make_rig(database_url, clock=rig.clock, broker=rig.broker)
    outcomes: list[bool] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(restarted.gateway.on_fill(fill)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [False] * 8
    assert count(rig.engine, FillRow) == 1 and count(rig.engine, ExecutionTraceRow) == 1
    stored = restarted.gateway.order("f1")
    assert stored is not None and stored.filled_quantity == D("0.1")
    assert stored.status is OrderStatus.FILLED
    rig.engine.dispose()
    restarted.engine.dispose()


def test_concurrent_first_deliveries_of_one_fill_store_it_once(database_url: str) -> None:
    rig = make_rig(database_url)
    rig.gateway.submit(child_of(limit_order("f2")), context(), market())
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    (fill,) = rig.broker.fills_since(None).fills
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(rig.gateway.on_fill(fill))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
    assert count(rig.engine, FillRow) == 1
    rig.engine.dispose()


def test_the_circuit_opens_after_n_failures_and_half_opens_after_the_cooldown(
    database_url: str,
) -> None:
    config = GatewayConfig(circuit=CircuitBreakerConfig(failure_threshold=3, cooldown_seconds=60))
    rig = make_rig(database_url, gateway_config=config)
    rig.broker.transient_failures = 3
    for index in range(3):
        order = limit_order(f"t{index}", quantity=f"0.0{index + 1}", strategy=f"s{index}")
        result = rig.gateway.submit(child_of(order), context(), market())
        assert result.status is SubmitStatus.REJECTED and "TemporaryError" in (result.reason or "")
    assert rig.gateway.breaker.state is CircuitState.OPEN
    assert rig.gate.status().reservations == ()  # certainly not at the venue: released

    refused = rig.gateway.submit(child_of(limit_order("later")), context(), market())
    assert refused.status is SubmitStatus.REFUSED and "circuit open" in (refused.reason or "")
    assert rig.broker.submit_calls == 3
    assert rig.gateway.order("later") is None and rig.decisions("later") == []

    rig.clock.advance_by(timedelta(seconds=60))
    assert rig.gateway.breaker.state is CircuitState.HALF_OPEN
    probe = rig.gateway.submit(child_of(limit_order("later")), context(), market())
    assert probe.status is SubmitStatus.SENT  # the refused child, retried as it is
    assert rig.gateway.breaker.state is CircuitState.CLOSED
    assert rig.broker.submit_calls == 4
    rig.engine.dispose()


def test_expired_passive_orders_are_cancelled_and_release_their_exposure(
    database_url: str,
) -> None:
    rig = make_rig(database_url)
    passive = child_of(
        limit_order("p1", price=D(39_000)),
        time_in_force=TimeInForce.GTC,
        expires_at=NOW + timedelta(hours=1),
    )
    assert rig.gateway.submit(passive, context(), market()).status is SubmitStatus.SENT
    assert rig.gateway.expire() == 0
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=40_000, low=39_500, high=40_500))  # no touch
    assert rig.gateway.expire() == 1
    assert rig.gateway.order("p1").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert rig.gate.status().reservations == ()
    with Session(rig.engine) as session:
        assert session.get(OrderRow, "p1").sent_at == NOW  # type: ignore[union-attr]
    rig.engine.dispose()
