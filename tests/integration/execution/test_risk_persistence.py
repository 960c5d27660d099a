"""Risk state lives in the database: latches, disabled strategies and reservations survive a
restart, and only an explicit, audited call by a person clears a latch."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from trading_rig import ETH, NOW, child_of, context, limit_order, make_rig, market, next_bar

from quantgate.core import DenyReason, ProgrammerError, SimulatedClock
from quantgate.execution import SubmitStatus

D = Decimal


def test_daily_loss_latch_survives_restart_and_only_an_audited_reset_clears_it(
    database_url: str,
) -> None:
    clock = SimulatedClock(NOW)
    rig = make_rig(database_url, clock=clock)
    assert not rig.gate.observe_equity(D(100_000))  # the day's anchor
    lost = rig.gate.check(limit_order("a"), context(equity="98999"))
    assert lost.reason is DenyReason.DAILY_LOSS_LATCHED
    # Equity recovers: the latch holds all the same.
    assert rig.gate.check(limit_order("b"), context(equity="100500")).reason is (
        DenyReason.DAILY_LOSS_LATCHED
    )
    rig.engine.dispose()

    clock.advance_by(timedelta(days=1))  # a new day is no reset either
    restarted = make_rig(database_url, clock=clock)
    assert restarted.gate.status().daily_loss_latched
    assert restarted.gate.observe_equity(D(100_000))
    denied = restarted.gate.check(limit_order("c"), context(at=clock.now(), equity="100000"))
    assert denied.reason is DenyReason.DAILY_LOSS_LATCHED

    with pytest.raises(ProgrammerError):
        restarted.gate.reset_daily_loss(actor="", reason="")
    restarted.gate.reset_daily_loss(actor="alice", reason="loss reviewed with the desk")
    allowed = restarted.gate.check(limit_order("d"), context(at=clock.now(), equity="98999"))
    assert allowed.allowed  # re-anchored at the first equity after the reset

    events = [(e.kind, e.action, e.actor, e.reason) for e in restarted.gate.events()]
    assert events == [
        ("daily_loss", "latched", "risk_gate", "daily loss 1001 reached the limit 1000"),
        ("daily_loss", "reset", "alice", "loss reviewed with the desk"),
    ]
    restarted.engine.dispose()


def test_a_looping_strategy_stays_disabled_across_restarts_until_re_enabled(
    database_url: str,
) -> None:
    clock = SimulatedClock(NOW)
    rig = make_rig(database_url, clock=clock)
    for index in range(3):  # 3 per strategy and symbol per day is the limit
        order = limit_order(f"r{index}", quantity=f"0.0{index + 1}")
        assert rig.gate.check(order, context()).allowed
    looping = rig.gate.check(limit_order("r3", quantity="0.04"), context())
    assert looping.reason is DenyReason.STRATEGY_DISABLED
    assert looping.detail["disabled_by"] == "repeated_execution"
    # Other strategies trade on.
    assert rig.gate.check(limit_order("o1", ETH, strategy="carry"), context()).allowed
    rig.engine.dispose()

    clock.advance_by(timedelta(days=2))  # the window has long passed: still disabled
    restarted = make_rig(database_url, clock=clock)
    assert restarted.gate.status().disabled_strategies.keys() == {"mom"}
    later = restarted.gate.check(limit_order("r4"), context(at=clock.now()))
    assert later.reason is DenyReason.STRATEGY_DISABLED

    restarted.gate.enable_strategy("mom", actor="bob", reason="fixed the signal loop")
    assert restarted.gate.check(limit_order("r5"), context(at=clock.now())).allowed
    events = [(e.kind, e.key, e.action, e.actor) for e in restarted.gate.events()]
    assert events == [
        ("strategy_disabled", "mom", "disabled", "risk_gate"),
        ("strategy_disabled", "mom", "enabled", "bob"),
    ]
    assert restarted.gate.events()[0].detail["executions_in_window"] == 3
    restarted.engine.dispose()


def test_kill_switch_is_latched_across_restarts(database_url: str) -> None:
    rig = make_rig(database_url)
    rig.gate.engage_kill_switch(actor="carol", reason="venue incident")
    rig.engine.dispose()

    restarted = make_rig(database_url)
    result = restarted.gateway.submit(child_of(limit_order("k")), context(), market())
    assert result.deny_reason is DenyReason.KILL_SWITCH
    assert restarted.broker.submit_calls == 0
    restarted.gate.release_kill_switch(actor="carol", reason="venue back")
    assert restarted.gateway.submit(child_of(limit_order("k2")), context(), market()).status is (
        SubmitStatus.SENT
    )
    assert [(e.action, e.actor) for e in restarted.gate.events()] == [
        ("engaged", "carol"),
        ("released", "carol"),
    ]
    restarted.engine.dispose()


def test_reserved_exposure_survives_a_restart_and_is_released_by_fills(
    database_url: str,
) -> None:
    rig = make_rig(database_url)
    for name in ("a", "b"):  # 2 · 8 000 of the 20 000 symbol limit, in flight
        order = limit_order(name, quantity="0.2", strategy=name)
        assert rig.gateway.submit(child_of(order), context(), market()).status is SubmitStatus.SENT
    rig.engine.dispose()

    # Same venue (the broker object stands for it), new process.
    restarted = make_rig(database_url, clock=rig.clock, broker=rig.broker)
    reserved = {r.client_order_id: r.remaining for r in restarted.gate.status().reservations}
    assert reserved == {"a": D("0.2"), "b": D("0.2")}
    more = restarted.gateway.submit(
        child_of(limit_order("more", quantity="0.2")), context(), market()
    )
    assert more.deny_reason is DenyReason.MAX_POSITION_SYMBOL  # 16 000 + 8 000 > 20 000

    restarted.clock.advance_by(timedelta(hours=1))
    restarted.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_900, high=40_100))
    report = restarted.gateway.reconcile()
    assert [f.client_order_id for f in report.fills] == ["a", "b"]
    assert restarted.gate.status().reservations == ()
    restarted.engine.dispose()
