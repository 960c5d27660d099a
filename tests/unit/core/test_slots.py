from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest

from quantgate.core.errors import ProgrammerError
from quantgate.core.slots import draft_class, slot_setters


@dataclass(frozen=True, slots=True)
class Pair:
    left: int
    right: int


def test_setters_fill_a_frozen_record_which_stays_frozen() -> None:
    set_left, set_right = slot_setters(Pair, ("left", "right"))
    pair = object.__new__(Pair)
    set_left(pair, 1)
    set_right(pair, 2)
    assert pair == Pair(1, 2)
    with pytest.raises(FrozenInstanceError):
        pair.left = 3  # type: ignore[misc]


def test_a_name_that_is_not_a_slot_is_refused() -> None:
    with pytest.raises(ProgrammerError, match=r"Pair\.middle is not a slot"):
        slot_setters(Pair, ("left", "middle"))


@dataclass(frozen=True)
class Unslotted:
    left: int


@dataclass(frozen=True, slots=True)
class Child(Pair):
    extra: int


def test_a_draft_becomes_an_equal_frozen_hashable_record() -> None:
    draft: Any = object.__new__(draft_class(Pair))
    draft.left = 1
    draft.right = 2
    draft.__class__ = Pair
    assert type(draft) is Pair
    assert draft == Pair(1, 2)
    assert hash(draft) == hash(Pair(1, 2))
    assert repr(draft) == "Pair(left=1, right=2)"
    with pytest.raises(FrozenInstanceError):
        draft.left = 3  # type: ignore[misc]


def test_a_draft_holds_only_the_records_slots() -> None:
    draft: Any = object.__new__(draft_class(Pair))
    with pytest.raises(AttributeError):
        draft.middle = 1


@pytest.mark.parametrize("cls", [Unslotted, Child])
def test_draft_class_refuses_classes_without_their_own_plain_layout(cls: type) -> None:
    with pytest.raises(ProgrammerError, match="draft_class needs a slotted class on object"):
        draft_class(cls)


class Lone:
    __slots__ = "value"
    value: int


def test_a_lone_slot_written_as_a_string_keeps_its_name() -> None:
    draft: Any = object.__new__(draft_class(Lone))
    draft.value = 7
    draft.__class__ = Lone
    assert isinstance(draft, Lone)
    assert draft.value == 7
