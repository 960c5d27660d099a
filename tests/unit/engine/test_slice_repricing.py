"""Long-horizon slices priced for the market at their release.

A slice due after the market moved the plan's way (down for a buy, up for a sell) is
priced from the last close as the first slice was from the decision price; a move
against the plan leaves the planned limit, so no slice pays more than the decision
bound. Left at the decision price, such a slice sat deep through the market: past the
gate's price collar it was denied and the plan missed the better price."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from engine_builders import MOMENTUM_1D, bars, buy_intent, config, frame, run

from quantgate.core.enums import Side
from quantgate.engine.backtest import backtest_risk_limits
from quantgate.execution import LongHorizonConfig, LongHorizonExec
from quantgate.execution.intent import ChildOrder, ExecutionIntent

D = Decimal


def _second_slice(policy: LongHorizonExec, intent: ExecutionIntent) -> ChildOrder:
    children = policy.plan(intent).children
    assert len(children) == 6
    return children[1]


def _sell_intent(price: Decimal) -> ExecutionIntent:
    flat = buy_intent(D("0"), price)
    # Out of a 10-unit position: a sell plan.
    return ExecutionIntent(
        flat.scope,
        flat.strategy,
        flat.instrument,
        D("10"),
        D("0"),
        flat.decision_time,
        price,
        flat.horizon,
        flat.mode,
    )


def test_a_twap_buy_slice_follows_the_market_down_never_up() -> None:
    policy = LongHorizonExec(LongHorizonConfig(slices=6))
    intent = buy_intent(D("10"), D("100"))
    child = _second_slice(policy, intent)
    assert child.order.limit_price == D("100.50")  # the decision bound: 100 + 50 bps
    cheaper = policy.reprice(child, intent, D("90"))
    assert cheaper.order.limit_price == D("90.45")  # 90 + 50 bps, floored to the tick
    assert cheaper.order.quantity == child.order.quantity
    assert cheaper.client_order_id == child.client_order_id
    # A move against the plan, or none, keeps the planned child itself.
    assert policy.reprice(child, intent, D("104")) is child
    assert policy.reprice(child, intent, D("100")) is child


def test_a_twap_sell_slice_follows_the_market_up_never_down() -> None:
    policy = LongHorizonExec(LongHorizonConfig(slices=6))
    intent = _sell_intent(D("100"))
    assert intent.side is Side.SELL
    child = _second_slice(policy, intent)
    assert child.order.limit_price == D("99.50")
    dearer = policy.reprice(child, intent, D("110"))
    assert dearer.order.limit_price == D("109.45")  # 110 - 50 bps, rounded up to the tick
    assert policy.reprice(child, intent, D("95")) is child


def test_a_passive_buy_slice_rests_below_the_market_it_fell_to() -> None:
    policy = LongHorizonExec(LongHorizonConfig(slices=6, style="passive"))
    intent = buy_intent(D("10"), D("100"))
    child = _second_slice(policy, intent)
    assert child.order.limit_price == D("99.95")  # 5 bps under the decision price
    # Left there, a slice after a fall to 95 would be a taker 5 % through the market.
    assert policy.reprice(child, intent, D("95")).order.limit_price == D("94.95")
    assert policy.reprice(child, intent, D("101")) is child


@pytest.mark.parametrize(
    "reference", [D("NaN"), D("Infinity"), D("0"), D("-1")], ids=["nan", "inf", "zero", "neg"]
)
def test_no_usable_reference_keeps_the_planned_limit(reference: Decimal) -> None:
    policy = LongHorizonExec(LongHorizonConfig(slices=6))
    intent = buy_intent(D("10"), D("100"))
    child = _second_slice(policy, intent)
    assert policy.reprice(child, intent, reference) is child


def test_off_or_single_slice_keeps_the_planned_limit() -> None:
    intent = buy_intent(D("10"), D("100"))
    off = LongHorizonExec(LongHorizonConfig(slices=6, reprice_with_market=False))
    child = _second_slice(off, intent)
    assert off.reprice(child, intent, D("90")) is child
    single = LongHorizonExec(LongHorizonConfig(slices=1))
    (only,) = single.plan(intent).children
    assert single.reprice(only, intent, D("90")) is only


def _orders(path: Path) -> list[tuple[D, str]]:
    """(limit, status) of AAA's orders, in order."""
    with sqlite3.connect(path / "engine.db") as db:
        rows = db.execute(
            "select limit_price, status from orders where symbol = 'AAA'"
            " order by created_at, client_order_id"
        ).fetchall()
    return [(D(str(limit)), status) for limit, status in rows]


def _fill_prices(path: Path) -> list[D]:
    with sqlite3.connect(path / "engine.db") as db:
        rows = db.execute("select price from fills order by filled_at, id").fetchall()
    return [D(str(price)) for (price,) in rows]


@pytest.mark.parametrize("reprice", [True, False])
def test_a_plan_buys_the_dip_the_collar_used_to_deny(tmp_path: Path, reprice: bool) -> None:
    # Lookback 6: AAA enters at bar 7 (110 over 100) for 45.454 in six slices bounded at
    # 110.55; bars 8 and 9 close at 108 (the next ones open there). Re-priced, the two
    # slices released then are bounded at 108.54 and buy at 108; left at 110.55 they are
    # 236 bps off the mark, past a 100 bps collar: denied, the later slices take it all.
    params = {**MOMENTUM_1D, "lookback": 6}
    closes = [100.0] * 7 + [110.0] + [108.0] * 2 + [110.0] * 14
    risk = backtest_risk_limits(D(10_000)).model_copy(update={"price_collar_bps": 100.0})
    result = run(
        tmp_path,
        frame(bars("AAA", closes)),
        config(
            ["AAA"],
            params=params,
            risk=risk.model_dump(mode="json"),
            long_horizon={"reprice_with_market": reprice},
        ),
    )
    orders = _orders(result.path)
    engine = result.metrics["engine"]
    assert D(result.metrics["positions"]["AAA"]) == D("45.454")
    if reprice:
        assert (
            orders
            == [(D("110.55"), "filled")]
            + [(D("108.54"), "filled")] * 2
            + [(D("110.55"), "filled")] * 3
        )
        assert (engine["denials"], engine["slices_repriced"]) == ({}, 2)
        # Each slice meets the next bar's open: the dip's two at 108.
        assert _fill_prices(result.path) == [
            D(p) for p in ("110", "108", "108", "110", "110", "110")
        ]
    else:
        assert [status for _, status in orders].count("rejected") == 2
        assert (engine["denials"], engine["slices_repriced"]) == ({"price_collar": 2}, 0)
        assert D("108") not in _fill_prices(result.path)
