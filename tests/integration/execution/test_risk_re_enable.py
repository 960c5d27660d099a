"""A strategy a person re-enabled after the repeated-execution throttle trades again: the
throttle counts its orders from the re-enabling, in this gate and in one restarted on the
same database, instead of disabling it again at its next order."""

from __future__ import annotations

from datetime import timedelta

from trading_rig import ETH, NOW, Rig, context, limit_order, make_rig

from quantgate.core import DenyReason, SimulatedClock

FIVE_MINUTES = timedelta(minutes=5)


def check(rig: Rig, cid: str, quantity: str, **options: object) -> DenyReason | None:
    """Five minutes on, an order of `quantity`: its deny reason, None when allowed."""
    rig.clock.advance_by(FIVE_MINUTES)
    order = limit_order(cid, quantity=quantity, **options)  # type: ignore[arg-type]
    decision = rig.gate.check(order, context(at=rig.clock.now()))
    return decision.reason


def test_a_re_enabled_strategy_is_counted_from_the_re_enabling_across_a_restart(
    database_url: str,
) -> None:
    rig = make_rig(database_url, clock=SimulatedClock(NOW))
    # The rig allows 3 orders per strategy and symbol per day; the 4th disables "mom".
    assert [check(rig, f"r{i}", f"0.0{i + 1}") for i in range(4)] == [
        None,
        None,
        None,
        DenyReason.STRATEGY_DISABLED,
    ]
    rig.clock.advance_by(FIVE_MINUTES)
    rig.gate.enable_strategy("mom", actor="alice", reason="checked, loop fixed")
    enabled_at = rig.clock.now()
    # The orders before the re-enabling no longer count: two more on BTC, one on ETH.
    assert check(rig, "a1", "0.05") is None
    assert check(rig, "a2", "0.06") is None
    assert check(rig, "e1", "0.1", instrument=ETH) is None
    assert rig.gate.status().disabled_strategies == {}
    rig.engine.dispose()

    restarted = make_rig(database_url, clock=rig.clock)
    assert check(restarted, "a3", "0.07") is None  # the third since the re-enabling
    assert check(restarted, "a4", "0.08") is DenyReason.STRATEGY_DISABLED  # the fourth
    assert restarted.gate.status().disabled_strategies.keys() == {"mom"}

    rows = [(r.client_order_id, r.decision, r.reason) for r in restarted.decisions()]
    assert rows == [
        ("r0", "allowed", None),
        ("r1", "allowed", None),
        ("r2", "allowed", None),
        ("r3", "denied", "strategy_disabled"),
        ("a1", "allowed", None),
        ("a2", "allowed", None),
        ("e1", "allowed", None),
        ("a3", "allowed", None),
        ("a4", "denied", "strategy_disabled"),
    ]
    (a4,) = restarted.decisions("a4")
    assert a4.detail["executions_in_window"] == 3 and a4.detail["disabled_by"] == (
        "repeated_execution"
    )
    events = [(e.action, e.actor, e.detail.get("enabled_at")) for e in restarted.gate.events()]
    assert events == [
        ("disabled", "risk_gate", None),
        ("enabled", "alice", enabled_at.isoformat()),
        ("disabled", "risk_gate", None),
    ]
    restarted.engine.dispose()


def test_a_restart_before_the_next_order_counts_from_the_re_enabling(database_url: str) -> None:
    rig = make_rig(database_url, clock=SimulatedClock(NOW))
    for index in range(4):
        check(rig, f"r{index}", f"0.0{index + 1}")
    rig.gate.enable_strategy("mom", actor="alice", reason="checked, loop fixed")
    rig.engine.dispose()

    restarted = make_rig(database_url, clock=rig.clock)
    assert check(restarted, "after", "0.05") is None
    (row,) = restarted.decisions("after")
    assert (row.decision, row.reason) == ("allowed", None)
    restarted.engine.dispose()
