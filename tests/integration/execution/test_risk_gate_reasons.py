"""One case per DenyReason: the order is denied for exactly that reason, the decision is
persisted, and the broker never sees the order (zero submit calls)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from trading_rig import (
    BTC,
    ETH,
    LIMITS,
    NOW,
    SOL,
    XRP,
    Rig,
    context,
    limit_order,
    make_rig,
    market,
)

from quantgate.core import DenyReason, Order, OrderStatus
from quantgate.execution import SubmitStatus
from quantgate.risk import Quote, RiskContext
from quantgate.storage import create_db_engine, upgrade

D = Decimal
Setup = Callable[[Rig], tuple[Order, RiskContext]]


@dataclass(frozen=True)
class Case:
    reason: DenyReason
    setup: Setup
    limits: dict[str, Any] = field(default_factory=dict)


def own(rig: Rig, order: Order) -> Order:
    """Client order ids are unique per database, as derived ids are: prefix the case's scope."""
    return replace(order, client_order_id=f"{rig.scope}:{order.client_order_id}")


def plain(order: Order, ctx: RiskContext | None = None) -> Setup:
    return lambda rig: (own(rig, order), ctx or context())


def daily_loss(rig: Rig) -> tuple[Order, RiskContext]:
    assert not rig.gate.observe_equity(D(100_000))  # anchors the day
    return own(rig, limit_order("x")), context(equity="98999")  # lost 1001 ≥ 1000


def order_rate(rig: Rig) -> tuple[Order, RiskContext]:
    for index in range(5):  # the limit: 5 allowed orders per 60 s, any strategy
        earlier = limit_order(f"e{index}", XRP, quantity="100", strategy=f"other{index}")
        assert rig.gate.check(own(rig, earlier), context()).allowed
    return own(rig, limit_order("x")), context()


def duplicate(rig: Rig) -> tuple[Order, RiskContext]:
    assert rig.gate.check(own(rig, limit_order("first")), context()).allowed
    return own(rig, limit_order("second")), context()  # same content, new id, 0 s later


def disabled(rig: Rig) -> tuple[Order, RiskContext]:
    rig.gate.disable_strategy("mom", actor="alice", reason="misbehaving in paper")
    return own(rig, limit_order("x")), context()


def repeated(rig: Rig) -> tuple[Order, RiskContext]:
    for index in range(3):  # the limit: 3 per strategy and symbol per day
        earlier = limit_order(f"r{index}", quantity=f"0.0{index + 1}")
        assert rig.gate.check(own(rig, earlier), context()).allowed
    return own(rig, limit_order("x")), context()


def kill(rig: Rig) -> tuple[Order, RiskContext]:
    rig.gate.engage_kill_switch(actor="bob", reason="exchange incident")
    return own(rig, limit_order("x")), context()


CASES = {
    "order_notional": Case(DenyReason.MAX_ORDER_NOTIONAL, plain(limit_order("x", quantity="0.3"))),
    "order_quantity": Case(
        DenyReason.MAX_ORDER_QUANTITY,
        plain(limit_order("x")),
        {"max_order_quantity": {"BTCUSDT": D("0.05")}},
    ),
    "symbol": Case(
        DenyReason.MAX_POSITION_SYMBOL,
        plain(limit_order("x"), context(holdings={"BTCUSDT": (BTC, "0.45")})),  # 18k + 4k
    ),
    "bucket": Case(
        DenyReason.MAX_POSITION_BUCKET,
        plain(limit_order("x"), context(holdings={"ETHUSDT": (ETH, "11")})),  # 27.5k + 4k
    ),
    "gross": Case(
        DenyReason.GROSS_EXPOSURE,
        plain(
            limit_order("x"),
            context(holdings={"SOLUSDT": (SOL, "400"), "ETHUSDT": (ETH, "3")}),  # 47.5k + 4k
        ),
    ),
    "daily_loss": Case(DenyReason.DAILY_LOSS_LATCHED, daily_loss),
    "stale": Case(
        DenyReason.NO_FRESH_REFERENCE,
        plain(
            limit_order("x"),
            context(
                quote_overrides={
                    "BTCUSDT": Quote(D(39_999), D(40_001), NOW - timedelta(seconds=301))
                }
            ),
        ),
    ),
    "spread": Case(
        DenyReason.SPREAD_TOO_WIDE,
        plain(
            limit_order("x"),
            context(quote_overrides={"BTCUSDT": Quote(D(39_800), D(40_200), NOW)}),
        ),
    ),
    "collar": Case(DenyReason.PRICE_COLLAR, plain(limit_order("x", price=D(44_000)))),
    "order_rate": Case(DenyReason.ORDER_RATE, order_rate),
    "duplicate": Case(DenyReason.DUPLICATE_ORDER, duplicate),
    "disabled": Case(DenyReason.STRATEGY_DISABLED, disabled),
    "repeated_execution": Case(DenyReason.STRATEGY_DISABLED, repeated),
    "tick": Case(DenyReason.TICK_SIZE, plain(limit_order("x", price=D("40000.005")))),
    "lot": Case(DenyReason.LOT_SIZE, plain(limit_order("x", quantity="0.0005"))),
    "zero_quantity": Case(DenyReason.INVALID_QUANTITY, plain(limit_order("x", quantity="0"))),
    "nan_quantity": Case(DenyReason.INVALID_QUANTITY, plain(limit_order("x", quantity="NaN"))),
    "negative_price": Case(DenyReason.INVALID_PRICE, plain(limit_order("x", price=D(-40_000)))),
    "infinite_price": Case(DenyReason.INVALID_PRICE, plain(limit_order("x", price=D("Inf")))),
    "kill_switch": Case(DenyReason.KILL_SWITCH, kill),
}


def test_every_deny_reason_has_a_case() -> None:
    assert {case.reason for case in CASES.values()} == set(DenyReason)


def test_denied_for_exactly_this_reason_recorded_and_never_sent(
    database_url: str, subtests: pytest.Subtests
) -> None:
    # One database per backend; each case runs in its own scope, which isolates its risk
    # state, decisions and orders exactly as a separate database would.
    engine = create_db_engine(database_url)
    upgrade(engine)
    for name, case in sorted(CASES.items()):
        with subtests.test(case=name):
            rig = make_rig(engine, limits=LIMITS.model_copy(update=case.limits), scope=name)
            check_denied(rig, case)
    engine.dispose()


def check_denied(rig: Rig, case: Case) -> None:
    order, ctx = case.setup(rig)

    result = rig.gateway.submit(rig.child(order), ctx, market())

    assert (result.status, result.deny_reason) == (SubmitStatus.DENIED, case.reason)
    assert rig.broker.submit_calls == 0
    (row,) = rig.decisions(order.client_order_id)
    assert (row.decision, row.reason) == ("denied", case.reason.value)
    assert (row.strategy, row.symbol, row.side, row.mode) == ("mom", "BTCUSDT", "buy", "paper")
    assert row.quantity == str(order.quantity.normalize()) or not order.quantity.is_finite()
    assert row.decided_at == NOW
    assert order.client_order_id not in {r.client_order_id for r in rig.gate.status().reservations}
    stored = rig.gateway.order(order.client_order_id)
    if order.quantity.is_finite() and (order.limit_price or D(1)).is_finite():
        # Persisted before the check, marked rejected by the risk gate, never sent.
        assert stored is not None and stored.status is OrderStatus.REJECTED
        assert stored.reason == f"risk: {case.reason.value}" and stored.sent_at is None
    else:
        assert stored is None  # a non-finite order cannot be an outbox row; the decision is


def test_the_same_order_without_the_fault_is_allowed_and_sent(database_url: str) -> None:
    rig = make_rig(database_url)
    result = rig.gateway.submit(rig.child(limit_order("ok")), context(), market())
    assert result.status is SubmitStatus.SENT
    assert rig.broker.submit_calls == 1
    (row,) = rig.decisions("ok")
    assert (row.decision, row.reason, row.price) == ("allowed", None, "40000")
    assert row.detail == {"price": "40000", "notional": "4000.0"}
    (reserved,) = rig.gate.status().reservations
    assert (reserved.client_order_id, reserved.remaining) == ("ok", D("0.1"))
    rig.engine.dispose()
