"""slot_init gives a frozen, slotted dataclass an __init__ that builds the same records as the
one dataclasses generates: same parameters, defaults, factories and __post_init__."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from quantgate.core.enums import Side
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.core.slots import slot_init
from quantgate.core.types import Fill


def _record_class() -> type:
    @dataclass(frozen=True, slots=True)
    class Record:
        name: str
        quantity: int = 1
        tags: list[str] = field(default_factory=list)
        derived: int = field(default=7, init=False)
        memo: dict[str, int] = field(default_factory=dict, init=False)
        note: str = field(default="", kw_only=True)

        def __post_init__(self) -> None:
            if self.quantity < 0:
                raise ValueError(f"{self.name}: negative quantity")

    return Record


def test_builds_the_records_the_generated_init_builds() -> None:
    generated, fast = _record_class(), slot_init(_record_class())
    assert str(inspect.signature(fast)) == str(inspect.signature(generated))
    calls = [
        (("a",), {}),
        (("b", 3), {}),
        (("c", 2, ["x"]), {"note": "n"}),
        (("d",), {"tags": ["y", "z"], "quantity": 0}),
    ]
    for args, kwargs in calls:
        expected, built = generated(*args, **kwargs), fast(*args, **kwargs)
        assert dataclasses.asdict(built) == dataclasses.asdict(expected)
        assert repr(built).split("(", 1)[1] == repr(expected).split("(", 1)[1]
    first, second = fast("e"), fast("f")
    assert first.tags is not second.tags  # a fresh list per record, as default_factory says
    assert first.memo is not second.memo


def test_keeps_post_init_frozenness_replace_and_pickle() -> None:
    fast = slot_init(_record_class())
    with pytest.raises(ValueError, match="negative quantity"):
        fast("bad", -1)
    record = fast("a", 2, note="kept")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.quantity = 3  # type: ignore[misc]
    assert dataclasses.replace(record, quantity=5).quantity == 5
    with pytest.raises(TypeError):
        fast("a", 1, [], "positional note")  # kw_only stays keyword-only


def test_a_production_record_pickles_and_converts_its_time() -> None:
    # Fill carries slot_init; its __post_init__ still validates and normalises to UTC.
    at = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    fill = Fill("t1", "c1", "BTCUSDT", Side.BUY, Decimal("0.5"), Decimal("100"), Decimal(0), at)
    assert fill.filled_at == at and fill.filled_at.tzinfo is UTC
    assert pickle.loads(pickle.dumps(fill)) == fill
    with pytest.raises(DataError, match=r"Fill\.quantity"):
        Fill("t2", "c1", "BTCUSDT", Side.BUY, Decimal(0), Decimal("100"), Decimal(0), at)


def test_refuses_what_it_cannot_build() -> None:
    @dataclass(frozen=True)
    class Unslotted:
        name: str

    @dataclass(slots=True)
    class Mutable:
        name: str

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        name: str
        scale: InitVar[int] = 1

    for cls in (Unslotted, Mutable, WithInitVar):
        with pytest.raises(ProgrammerError):
            slot_init(cls)
