"""TWAP slice sizes: as equal as the lot grid allows, summing exactly to the order.

The lots a division leaves over go one each to the first slices; they used to pile up
on the last slice (11 lots over 6 slices: five of 1 lot and a last of 6).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from exec_builders import DECISION_TIME, INSTRUMENT

from quantgate.core import Horizon, Mode
from quantgate.execution import ExecutionIntent, LongHorizonConfig, LongHorizonExec

D = Decimal
LOT = INSTRUMENT.lot_size  # 0.001


def _intent(target: Decimal) -> ExecutionIntent:
    return ExecutionIntent(
        scope="paper",
        strategy="momentum",
        instrument=INSTRUMENT,
        current_quantity=D(0),
        target_quantity=target,
        decision_time=DECISION_TIME,
        decision_price=D("100.00"),
        horizon=Horizon.D1,
        mode=Mode.PAPER,
    )


def slice_sizes(target: Decimal, slices: int, min_notional: str = "0") -> list[Decimal]:
    intent = _intent(target)
    policy = LongHorizonExec(LongHorizonConfig(slices=slices, min_notional=D(min_notional)))
    return [child.order.quantity for child in policy.plan(intent).children]


def in_lots(sizes: list[Decimal]) -> list[int]:
    return [int(size / LOT) for size in sizes]


@pytest.mark.parametrize(
    ("lots", "slices", "expected"),
    [
        (11, 6, [2, 2, 2, 2, 2, 1]),
        (7, 6, [2, 1, 1, 1, 1, 1]),
        (47, 24, [2] * 23 + [1]),
        (35, 6, [6] * 5 + [5]),
        (12, 6, [2] * 6),
        (3, 6, [1, 1, 1]),  # fewer lots than slices: one lot each
    ],
)
def test_the_left_over_lots_are_spread_one_per_slice(
    lots: int, slices: int, expected: list[int]
) -> None:
    assert in_lots(slice_sizes(lots * LOT, slices)) == expected


def test_a_target_off_the_lot_grid_is_floored_then_spread() -> None:
    # 0.0119 → 11 lots; the fraction of a lot is never traded.
    assert in_lots(slice_sizes(D("0.0119"), 6)) == [2, 2, 2, 2, 2, 1]


@pytest.mark.parametrize("slices", [1, 4, 6, 7, 24])
def test_slices_sum_exactly_stay_on_the_grid_and_differ_by_at_most_a_lot(slices: int) -> None:
    for lots in range(1, 400):
        sizes = slice_sizes(lots * LOT, slices)
        assert sum(sizes) == lots * LOT
        assert len(sizes) == min(slices, lots)
        assert all(size > 0 and size % LOT == 0 for size in sizes)
        assert max(sizes) - min(sizes) <= LOT
        assert sizes == sorted(sizes, reverse=True)  # the bigger slices go first


def test_min_notional_still_sets_the_count_and_no_slice_falls_below_it() -> None:
    # Notional 35 with a minimum of 10 → 3 slices; 350 lots / 3 = 116 r 2.
    sizes = slice_sizes(D("0.35"), 6, min_notional="10")
    assert sizes == [D("0.117"), D("0.117"), D("0.116")]
    assert all(size * D("100.00") >= 10 for size in sizes)


def test_the_same_intent_gives_the_same_slices() -> None:
    assert slice_sizes(D("4.7"), 24) == slice_sizes(D("4.7"), 24)


@pytest.mark.parametrize(("lots", "slices"), [(11, 6), (7, 6), (47, 24), (35, 6), (3, 6), (1, 1)])
def test_catching_up_after_full_fills_sends_the_planned_sizes(lots: int, slices: int) -> None:
    """Carrying the shortfall changes nothing while every slice fills: each slice's share
    of what is left (rounded up to the lot) is the size the plan gave it."""
    intent = _intent(lots * LOT)
    policy = LongHorizonExec(LongHorizonConfig(slices=slices, min_notional=D(0)))
    children = policy.plan(intent).children
    outstanding = intent.target_quantity
    for index, child in enumerate(children):
        sent = policy.catch_up(child, intent, outstanding, len(children) - index)
        assert sent is child
        outstanding -= child.order.quantity
    assert outstanding == 0


def test_a_slice_with_nothing_left_to_trade_is_not_sent() -> None:
    intent = _intent(12 * LOT)
    policy = LongHorizonExec(LongHorizonConfig(slices=6, min_notional=D(0)))
    child = policy.plan(intent).children[3]  # 2 lots, as all six
    assert policy.catch_up(child, intent, D(0), 3) is None
    # 4 lots over 3 slices: 2 lots, 0.2 of notional: under a 0.5 floor, not sent.
    floored = LongHorizonExec(LongHorizonConfig(slices=6, min_notional=D("0.5")))
    assert floored.catch_up(child, intent, 4 * LOT, 3) is None
    assert policy.catch_up(child, intent, 4 * LOT, 3) is child
    # 18 lots left over 3 slices: 6 lots each, more than the 2 planned.
    resized = policy.catch_up(child, intent, 18 * LOT, 3)
    assert resized is not None
    assert resized.order.quantity == 6 * LOT
    assert resized.client_order_id == child.client_order_id
    assert resized.slice_index == child.slice_index
