"""Direct slot setters for hot constructors of frozen, slotted dataclasses.

A frozen dataclass's generated __init__ sets each field through object.__setattr__ by
name; a slot's own descriptor sets it for a fraction of that, and a frozen class's
__setattr__ does not stand in its way. Records built once per bar or per order use these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from quantgate.core.errors import ProgrammerError

SlotSetter = Callable[[Any, Any], None]


def slot_setters(cls: type, names: Iterable[str]) -> tuple[SlotSetter, ...]:
    """The setters of `cls`'s slots `names`, in that order."""
    setters = []
    for name in names:
        descriptor = cls.__dict__.get(name)
        if descriptor is None or not hasattr(descriptor, "__set__"):
            raise ProgrammerError(f"{cls.__name__}.{name} is not a slot")
        setters.append(descriptor.__set__)
    return tuple(setters)
