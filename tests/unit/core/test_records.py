"""`replacer` copies a frozen slotted record with changes, like dataclasses.replace."""

from __future__ import annotations

import dataclasses

import pytest

from quantgate.core.errors import ProgrammerError
from quantgate.core.records import replacer


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int
    label: str | None = None


def test_the_copy_equals_dataclasses_replace_and_leaves_the_original() -> None:
    replace = replacer(Point)
    original = Point(1, 2, "a")
    changed = replace(original, {"y": 5, "label": None})
    assert changed == dataclasses.replace(original, y=5, label=None) == Point(1, 5, None)
    assert original == Point(1, 2, "a")
    assert replace(original, {}) == original
    assert replace(original, {}) is not original
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.x = 3  # type: ignore[misc]


def test_only_slotted_dataclasses_are_accepted() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        x: int

    with pytest.raises(ProgrammerError, match="Plain is not a slotted dataclass"):
        replacer(Plain)
