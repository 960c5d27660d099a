"""Execution policies: IOC now for short horizons, sliced over a window for long ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from exec_builders import DECISION_TIME, INSTRUMENT, cost_model

from quantgate.core import Horizon, Mode, OrderType, Side
from quantgate.execution import (
    LONG_HORIZON_EXEC,
    SHORT_HORIZON_EXEC,
    ExecutionIntent,
    ExecutionSchedule,
    LongHorizonConfig,
    LongHorizonExec,
    MarketContext,
    PolicyBook,
    ShortHorizonConfig,
    ShortHorizonExec,
    TimeInForce,
    derive_client_order_id,
)

D = Decimal


def intent(
    horizon: Horizon,
    target: str = "12.5",
    current: str = "0",
    *,
    decision_time: datetime = DECISION_TIME,
    strategy: str = "momentum",
) -> ExecutionIntent:
    return ExecutionIntent(
        scope="paper",
        strategy=strategy,
        instrument=INSTRUMENT,
        current_quantity=D(current),
        target_quantity=D(target),
        decision_time=decision_time,
        decision_price=D("100.00"),
        horizon=horizon,
        mode=Mode.PAPER,
    )


def test_short_horizons_send_one_marketable_ioc_limit_now() -> None:
    plan = PolicyBook().plan(intent(Horizon.H1))
    assert plan.policy == SHORT_HORIZON_EXEC
    (child,) = plan.children
    assert child.time_in_force is TimeInForce.IOC
    assert child.order.order_type is OrderType.LIMIT
    assert child.order.side is Side.BUY and child.order.quantity == D("12.5")
    assert child.order.limit_price == D("100.50")  # 100 · (1 + 50 bps)
    assert child.release_at == DECISION_TIME and child.expires_at is None


def test_short_horizon_sell_limit_is_bounded_below_and_market_is_an_option() -> None:
    sell = ShortHorizonExec().plan(intent(Horizon.H4, target="-3", current="2"))
    (child,) = sell.children
    assert child.order.side is Side.SELL and child.order.quantity == D(5)
    assert child.order.limit_price == D("99.50")
    market = ShortHorizonExec(ShortHorizonConfig(order_type="market")).plan(intent(Horizon.H1))
    assert market.children[0].order.order_type is OrderType.MARKET
    assert market.children[0].order.limit_price is None


def test_long_horizons_slice_twap_over_the_window() -> None:
    plan = PolicyBook().plan(intent(Horizon.D1))  # default: 6 slices over 6 h
    assert plan.policy == LONG_HORIZON_EXEC
    assert len(plan.children) == 6
    assert [c.release_at - DECISION_TIME for c in plan.children] == [
        timedelta(hours=h) for h in range(6)
    ]
    # 12.5 / 6 = 2.0833 → 2.083 per slice (lot 0.001); the 2 lots left over go to the
    # first two slices, one each.
    assert [c.order.quantity for c in plan.children] == [D("2.084")] * 2 + [D("2.083")] * 4
    assert plan.quantity == D("12.5")
    assert {c.time_in_force for c in plan.children} == {TimeInForce.IOC}
    assert {c.order.limit_price for c in plan.children} == {D("100.50")}
    assert [c.slice_index for c in plan.children] == list(range(6))


def test_passive_slices_rest_below_the_price_until_the_next_slice() -> None:
    policy = LongHorizonExec(LongHorizonConfig(style="passive", slices=4, passive_offset_bps=10.0))
    plan = policy.plan(intent(Horizon.D7, target="8"))  # 24 h window → every 6 h
    assert [c.order.quantity for c in plan.children] == [D(2)] * 4
    assert {c.time_in_force for c in plan.children} == {TimeInForce.GTC}
    assert {c.order.limit_price for c in plan.children} == {D("99.90")}
    for child in plan.children:
        assert child.expires_at == child.release_at + timedelta(hours=6)


def test_small_targets_get_fewer_slices_and_nothing_below_the_minimum() -> None:
    # Slices = min(6, notional / min notional 10): 15 of notional → 1, 25 → 2.
    plan = LongHorizonExec().plan(intent(Horizon.D1, target="0.15"))
    assert [c.order.quantity for c in plan.children] == [D("0.15")]
    plan = LongHorizonExec().plan(intent(Horizon.D1, target="0.25"))
    assert [c.order.quantity for c in plan.children] == [D("0.125"), D("0.125")]
    # Never a slice below one lot: 0.003 with lot 0.001 is at most 3 slices.
    tiny = LongHorizonExec(LongHorizonConfig(min_notional=D(0)))
    assert [c.order.quantity for c in tiny.plan(intent(Horizon.D1, target="0.003")).children] == [
        D("0.001")
    ] * 3
    assert PolicyBook().plan(intent(Horizon.H1, target="0.05")).children == ()  # 5 < 10
    assert PolicyBook().plan(intent(Horizon.H1, target="3", current="3")).children == ()


def test_client_order_ids_are_deterministic_per_intent_and_slice() -> None:
    first = PolicyBook().plan(intent(Horizon.D1))
    again = PolicyBook().plan(intent(Horizon.D1))
    assert [c.client_order_id for c in first.children] == [
        c.client_order_id for c in again.children
    ]
    assert len({c.client_order_id for c in first.children}) == 6
    later = PolicyBook().plan(intent(Horizon.D1, decision_time=DECISION_TIME + timedelta(hours=1)))
    assert not {c.client_order_id for c in later.children} & {
        c.client_order_id for c in first.children
    }
    expected = derive_client_order_id(
        scope="paper",
        strategy="momentum",
        symbol="TEST",
        side=Side.BUY,
        target_quantity=D("12.500"),  # same target, other spelling: same id
        decision_time=DECISION_TIME,
        slice_index=0,
    )
    assert first.children[0].client_order_id == expected
    assert expected.startswith("qg") and len(expected) == 32


def test_the_schedule_releases_due_children_and_a_new_plan_replaces_the_old() -> None:
    schedule = ExecutionSchedule()
    old = PolicyBook().plan(intent(Horizon.D1))
    assert schedule.add(old) == []
    due = schedule.due(DECISION_TIME + timedelta(hours=1))
    assert [c.slice_index for c in due] == [0, 1]
    assert schedule.due(DECISION_TIME + timedelta(hours=1)) == []
    newer = PolicyBook().plan(
        intent(Horizon.H1, target="4", decision_time=DECISION_TIME + timedelta(hours=1))
    )
    superseded = schedule.add(newer)
    assert [c.slice_index for c in superseded] == [2, 3, 4, 5]
    assert schedule.pending() == list(newer.children)


def test_policies_estimate_costs_with_the_shared_model_and_slicing_pays_less_impact() -> None:
    book = PolicyBook(cost_model=cost_model())
    market = MarketContext("sim", bar_volume=D(1000), volatility=0.02)
    short = book.plan(intent(Horizon.H1), market)
    (child,) = short.children
    assert child.estimate is not None
    # 12.5 of 1000 → impact 0.02 · sqrt(0.0125) · 10⁴ = 22.360680 bps; half-spread 10 bps.
    assert child.estimate.impact_bps == pytest.approx(22.36068)
    # fee 1250 · 5 bps = 0.625; price costs 1250 · 32.360680 bps = 4.045085.
    assert short.estimated_cost == D("4.670085")

    long = book.plan(intent(Horizon.D1), market)
    assert long.estimated_cost is not None
    assert long.estimated_cost < short.estimated_cost  # sqrt impact: slices pay less
    assert PolicyBook().plan(intent(Horizon.H1), market).estimated_cost is None  # no model
