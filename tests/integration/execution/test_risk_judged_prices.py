"""A sell below the market is judged at the price it will fill at (about the bid), not at its
own limit: the order notional and the short book cannot slip past their limits. The decision
row keeps the order's own price, from which a restarted gate rebuilds the duplicate check."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from trading_rig import BTC, HOUR, context, limit_order, make_rig, market, next_bar

from quantgate.core import DenyReason, OrderType, Side
from quantgate.execution import SubmitStatus

D = Decimal
# The rig quotes BTC at 40 000 with a 1 bp spread: bid 39 998, ask 40 002.


@dataclass(frozen=True)
class Case:
    name: str
    order_type: OrderType
    quantity: str
    short: str | None  # a short position held already
    reason: DenyReason
    detail: dict[str, str]


CASES = [
    # 0.26 at a 38 100 limit looked like 9 906 against the 10 000 cap; it fills near 10 400.
    Case(
        "sell-limit-notional",
        OrderType.LIMIT,
        "0.26",
        None,
        DenyReason.MAX_ORDER_NOTIONAL,
        {"notional": "10399.48", "price": "39998", "limit": "10000"},
    ),
    Case(
        "sell-stop-notional",
        OrderType.STOP,
        "0.26",
        None,
        DenyReason.MAX_ORDER_NOTIONAL,
        {"notional": "10399.48", "price": "39998", "limit": "10000"},
    ),
    # Short 0.5 (20 000 at the mid, the symbol limit): 0.02 more is 20 800 at the mid.
    Case(
        "sell-limit-short-book",
        OrderType.LIMIT,
        "0.02",
        "-0.5",
        DenyReason.MAX_POSITION_SYMBOL,
        {"scope": "BTCUSDT", "before": "20000.0", "after": "20800.00", "limit": "20000"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_sell_below_the_market_is_judged_at_the_bid(database_url: str, case: Case) -> None:
    rig = make_rig(database_url)
    holdings = None if case.short is None else {"BTCUSDT": (BTC, case.short)}
    order = limit_order(
        case.name,
        side=Side.SELL,
        quantity=case.quantity,
        price=D(38_100),
        order_type=case.order_type,
    )
    decision = rig.gate.check(order, context(holdings=holdings))
    assert decision.reason is case.reason
    assert dict(decision.detail) == case.detail
    (row,) = rig.decisions(case.name)
    assert (row.decision, row.reason, row.price) == ("denied", case.reason.value, "38100")
    assert row.detail == case.detail
    rig.engine.dispose()


def test_an_allowed_sell_reserves_at_the_bid_and_a_restart_still_sees_its_duplicate(
    database_url: str,
) -> None:
    rig = make_rig(database_url)
    first = limit_order("first", side=Side.SELL, quantity="0.2", price=D(38_100))
    result = rig.gateway.submit(rig.child(first), context(), market())
    assert result.status is SubmitStatus.SENT
    (row,) = rig.decisions("first")
    assert (row.decision, row.price) == ("allowed", "38100")  # the order's own limit
    assert row.detail == {"price": "39998", "notional": "7999.6"}
    (held,) = rig.gate.status().reservations
    assert held.price == D(39_998)
    rig.engine.dispose()

    restarted = make_rig(database_url, clock=rig.clock, broker=rig.broker)
    again = limit_order("again", side=Side.SELL, quantity="0.2", price=D(38_100))
    denied = restarted.gate.check(again, context())
    assert denied.reason is DenyReason.DUPLICATE_ORDER
    assert denied.detail == {"duplicate_of": "first"}
    assert [(r.decision, r.reason) for r in restarted.decisions("again")] == [
        ("denied", "duplicate_order")
    ]
    # It fills at about the bid, as it was judged, not at its limit.
    restarted.clock.advance_by(HOUR)
    restarted.broker.on_bar(next_bar("BTCUSDT"))
    (fill,) = restarted.gateway.reconcile().fills
    assert fill.price > D(39_900)
    restarted.engine.dispose()
