"""The client order id names the intent, then the slice: the risk gate reads that layout to
tell a plan's slices (the same order by design) from a duplicate."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from exec_builders import DECISION_TIME

from quantgate.core import ProgrammerError, Side
from quantgate.core.order_ids import MAX_SLICE_INDEX, intent_part
from quantgate.execution import derive_client_order_id

D = Decimal


def cid(slice_index: int = 0, **changes: object) -> str:
    fields: dict[str, object] = {
        "scope": "paper",
        "strategy": "momentum",
        "symbol": "BTCUSDT",
        "side": Side.BUY,
        "target_quantity": D("0.12"),
        "decision_time": DECISION_TIME,
        "slice_index": slice_index,
    }
    fields.update(changes)
    return derive_client_order_id(**fields)  # type: ignore[arg-type]


def test_the_slices_of_one_intent_share_its_part_of_the_id() -> None:
    slices = [cid(index) for index in (0, 1, 2, 499, MAX_SLICE_INDEX)]
    assert len(set(slices)) == len(slices)
    assert all(len(one) == 32 and one.isalnum() and one.startswith("qg") for one in slices)
    assert {intent_part(one) for one in slices} == {slices[0][:-3]}


@pytest.mark.parametrize(
    "changes",
    [
        {"scope": "live"},
        {"strategy": "carry"},
        {"symbol": "ETHUSDT"},
        {"side": Side.SELL},
        {"target_quantity": D("0.13")},
        {"decision_time": DECISION_TIME + timedelta(hours=1)},
    ],
)
def test_another_intent_has_another_part(changes: dict[str, object]) -> None:
    assert intent_part(cid(1, **changes)) != intent_part(cid(1))
    assert cid(0, target_quantity=D("0.120")) == cid(0)  # the same target, spelt otherwise


@pytest.mark.parametrize("slice_index", [-1, MAX_SLICE_INDEX + 1])
def test_a_slice_index_outside_the_layout_is_a_programming_error(slice_index: int) -> None:
    with pytest.raises(ProgrammerError):
        cid(slice_index)
