"""Direct slot setters for hot constructors of frozen, slotted dataclasses.

A frozen dataclass's generated __init__ sets each field through object.__setattr__ by
name; a slot's own descriptor sets it for a fraction of that, and a frozen class's
__setattr__ does not stand in its way. Records built once per bar or per order use these:
`slot_init` gives a whole class such an __init__, `slot_setters` hands out the setters to
code that builds records field by field, and `draft_class` a mutable twin to build the
records of the hottest loops in.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quantgate.core.errors import ProgrammerError

SlotSetter = Callable[[Any, Any], None]
RecordT = TypeVar("RecordT", bound=type)


def slot_setters(cls: type, names: Iterable[str]) -> tuple[SlotSetter, ...]:
    """The setters of `cls`'s slots `names`, in that order."""
    return tuple(_slot_setter(cls, name) for name in names)


def _slot_setter(cls: type, name: str) -> SlotSetter:
    # A subclass's own slots are in its __dict__, an inherited field's in its base's.
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            if not hasattr(descriptor, "__set__"):
                break
            setter: SlotSetter = descriptor.__set__
            return setter
    raise ProgrammerError(f"{cls.__name__}.{name} is not a slot")


class _Factory:
    """The default of an init parameter whose field has a default_factory (as dataclasses
    does it: the factory runs only when the caller gave nothing)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def slot_init(cls: RecordT) -> RecordT:
    """Replace the generated __init__ of a frozen, slotted dataclass by one with the same
    parameters, defaults, default factories and __post_init__ call that sets each field
    through its slot's descriptor. Apply it above @dataclass(frozen=True, slots=True)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise ProgrammerError(
            f"{cls.__name__}: slot_init needs @dataclass(frozen=True, slots=True)"
        )
    fields = dataclasses.fields(cls)
    original = cls.__dict__["__init__"]
    generated = list(inspect.signature(original).parameters)[1:]
    if sorted(generated) != sorted(f.name for f in fields if f.init):
        # An InitVar is a parameter but no field: its value would go nowhere here.
        raise ProgrammerError(f"{cls.__name__}: slot_init does not support InitVar fields")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for index, f in enumerate(fields):
        namespace[f"_set{index}"] = _slot_setter(cls, f.name)
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_factory:
            namespace[f"_factory{index}"] = f.default_factory
        if not f.init:
            if has_factory:
                body.append(f"_set{index}(self, _factory{index}())")
            elif f.default is not dataclasses.MISSING:
                namespace[f"_default{index}"] = f.default
                body.append(f"_set{index}(self, _default{index})")
            continue
        parameter = f.name
        if has_factory:
            parameter += "=_FACTORY"
            value = f"_factory{index}() if {f.name} is _FACTORY else {f.name}"
        elif f.default is not dataclasses.MISSING:
            namespace[f"_default{index}"] = f.default
            parameter += f"=_default{index}"
            value = f.name
        else:
            value = f.name
        (keyword if f.kw_only else positional).append(parameter)
        body.append(f"_set{index}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    exec(compile(source, f"<slot_init {cls.__qualname__}>", "exec"), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = original.__doc__
    init.__annotations__ = dict(original.__annotations__)
    setattr(cls, "__init__", init)  # noqa: B010 (mypy refuses the plain assignment)
    return cls


def draft_class(cls: type) -> type:
    """A mutable twin of the frozen, slotted `cls`: the same slots in the same layout, no
    frozen __setattr__. A record built on the twin by plain attribute assignment, then
    given `cls` as its class (`draft.__class__ = cls`, which CPython allows between such
    layouts), is a `cls` like any other, for half what its slot setters cost: a plain
    assignment to a slot is specialised by the interpreter, a setter is a call. For
    records made by the hundred thousand (a feed's bars); the twin skips __init__ and
    __post_init__, so the builder must give every slot a value those would accept."""
    slots = cls.__dict__.get("__slots__")
    if slots is None or cls.__bases__ != (object,):
        raise ProgrammerError(f"{cls.__name__}: draft_class needs a slotted class on object")
    # A lone slot may be written as a bare string, which tuple() would split into letters.
    names = (slots,) if isinstance(slots, str) else tuple(slots)
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": names})
    probe: Any = object.__new__(draft)
    probe.__class__ = cls  # raises here, once, if the layouts differ
    return draft
