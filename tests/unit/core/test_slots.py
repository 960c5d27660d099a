from dataclasses import FrozenInstanceError, dataclass

import pytest

from quantgate.core.errors import ProgrammerError
from quantgate.core.slots import slot_setters


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
