"""100 concurrent submits cannot push exposure past a limit: check-and-reserve is serialised."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from trading_rig import (
    BTC,
    ETH,
    LIMITS,
    PRICES,
    SOL,
    XRP,
    Rig,
    child_of,
    context,
    limit_order,
    make_rig,
    market,
)

from quantgate.core import DenyReason, Order
from quantgate.execution import GatewayResult, SubmitStatus

D = Decimal
ORDERS = 100


def submit_all(url: str, orders: list[Order], **limits: object) -> tuple[list[GatewayResult], Rig]:
    rig = make_rig(
        url,
        limits=LIMITS.model_copy(
            update={
                "max_orders_per_window": 1_000,
                "max_executions_per_strategy_symbol": 1_000,
                **limits,
            }
        ),
    )
    ctx = context()

    def submit(order: Order) -> GatewayResult:
        return rig.gateway.submit(child_of(order), ctx, market(order.instrument.symbol))

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(submit, orders))
    return results, rig


def test_symbol_exposure_never_exceeds_its_limit(database_url: str) -> None:
    # 100 buyers of 0.1 BTC at 40 000 (4 000 each) against a 20 000 symbol limit.
    orders = [limit_order(f"c{i}", BTC, strategy=f"s{i}") for i in range(ORDERS)]
    results, rig = submit_all(database_url, orders)

    sent = [r for r in results if r.status is SubmitStatus.SENT]
    denied = [r for r in results if r.status is SubmitStatus.DENIED]
    assert len(sent) + len(denied) == ORDERS
    assert {r.deny_reason for r in denied} == {DenyReason.MAX_POSITION_SYMBOL}
    notional = D("0.1") * PRICES["BTCUSDT"] * len(sent)
    assert notional <= LIMITS.max_symbol_notional
    assert len(sent) == 5  # exactly as many as fit: the limit is reached, not undershot
    assert rig.broker.submit_calls == len(sent)
    reserved = sum(r.remaining * r.price for r in rig.gate.status().reservations)
    assert reserved == notional
    rig.engine.dispose()


def test_gross_exposure_never_exceeds_its_limit(database_url: str) -> None:
    # 1 000 of notional each, over four symbols in three buckets, against 25 000 gross.
    legs = [(BTC, "0.025"), (ETH, "0.4"), (SOL, "10"), (XRP, "2000")]
    orders = [
        limit_order(f"g{i}", legs[i % 4][0], quantity=legs[i % 4][1], strategy=f"s{i}")
        for i in range(ORDERS)
    ]
    results, rig = submit_all(database_url, orders, max_gross_notional=D(25_000))

    sent = [r for r in results if r.status is SubmitStatus.SENT]
    denied = [r for r in results if r.status is SubmitStatus.DENIED]
    assert {r.deny_reason for r in denied} == {DenyReason.GROSS_EXPOSURE}
    assert len(sent) == 25 and len(denied) == ORDERS - 25
    gross = sum(r.remaining * r.price for r in rig.gate.status().reservations)
    assert gross == D(25_000)
    rig.engine.dispose()
