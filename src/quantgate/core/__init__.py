"""Domain types, enums, clocks and errors. Pure: no I/O lives here."""

from quantgate.core.clock import Clock, SimulatedClock, WallClock
from quantgate.core.enums import (
    AssetClass,
    Bucket,
    DenyReason,
    Horizon,
    Mode,
    OrderStatus,
    OrderType,
    Side,
    TextKind,
)
from quantgate.core.errors import (
    ConfigurationError,
    DataError,
    ProgrammerError,
    QuantgateError,
    TemporaryError,
)
from quantgate.core.signals import Signal
from quantgate.core.types import (
    Bar,
    Comment,
    Fill,
    Instrument,
    Order,
    OrderEnded,
    Position,
    Post,
    Prediction,
)

__all__ = [
    "AssetClass",
    "Bar",
    "Bucket",
    "Clock",
    "Comment",
    "ConfigurationError",
    "DataError",
    "DenyReason",
    "Fill",
    "Horizon",
    "Instrument",
    "Mode",
    "Order",
    "OrderEnded",
    "OrderStatus",
    "OrderType",
    "Position",
    "Post",
    "Prediction",
    "ProgrammerError",
    "QuantgateError",
    "Side",
    "Signal",
    "SimulatedClock",
    "TemporaryError",
    "TextKind",
    "WallClock",
]
