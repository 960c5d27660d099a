"""Domain value types. Prices and quantities in orders, fills and positions are Decimal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from math import isfinite

from quantgate.core.clock import ensure_utc
from quantgate.core.enums import (
    AssetClass,
    Bucket,
    Horizon,
    Mode,
    OrderStatus,
    OrderType,
    Side,
    TextKind,
)
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.core.slots import slot_init


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    venue: str
    asset_class: AssetClass
    bucket: Bucket
    tick_size: Decimal
    lot_size: Decimal
    listing_date: date

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ProgrammerError("Instrument.symbol must not be empty")
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise ProgrammerError(f"{self.symbol}: tick_size and lot_size must be positive")

    def is_on_tick(self, price: Decimal) -> bool:
        return is_multiple(price, self.tick_size)

    def is_on_lot(self, quantity: Decimal) -> bool:
        return is_multiple(quantity, self.lot_size)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether a finite `value` is a whole number of `step`s, exactly, however large.

    `%` in the default context (28 digits) raises once value / step has more digits, as
    a fat-fingered quantity of 1e26 units on a 0.001 lot does: the gate must deny such an
    order, not fail on it, so that case is decided on the integer coefficients."""
    try:
        return value % step == 0
    except InvalidOperation:
        if not value.is_finite():
            raise
    _, digits, exponent = value.as_tuple()
    _, step_digits, step_exponent = step.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    step_coefficient = int("".join(map(str, step_digits)))
    shift = int(exponent) - int(step_exponent)
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        return coefficient * scale % step_coefficient == 0
    return coefficient % (step_coefficient * scale) == 0


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. `ts` is the open time; `available_at` is when we could first know it."""

    symbol: str
    ts: datetime
    available_at: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    def __post_init__(self) -> None:
        _store_utc(self, "ts", self.ts, "Bar.ts")
        _store_utc(self, "available_at", self.available_at, "available_at")

    def consistency_problems(self) -> list[str]:
        """Reasons this bar is not a valid OHLCV bar; empty when it is."""
        problems = []
        values = {"open": self.open, "high": self.high, "low": self.low, "close": self.close}
        for name, value in {**values, "volume": self.volume}.items():
            if not isfinite(value):
                problems.append(f"{name} is not finite")
        if problems:
            return problems
        if self.low > min(self.open, self.close):
            problems.append("low above open or close")
        if self.high < max(self.open, self.close):
            problems.append("high below open or close")
        if self.volume < 0:
            problems.append("volume negative")
        if self.available_at < self.ts:
            problems.append("available_at before ts")
        return problems


@dataclass(frozen=True, slots=True)
class Post:
    """A social post about one or more symbols."""

    post_id: str
    source: str
    author: str
    published_at: datetime
    available_at: datetime
    symbols: tuple[str, ...]
    title: str
    body: str

    kind = TextKind.POST

    def __post_init__(self) -> None:
        _store_utc(self, "published_at", self.published_at, "published_at")
        _store_utc(self, "available_at", self.available_at, "available_at")


@dataclass(frozen=True, slots=True)
class Comment:
    """A reply to a post (or to another comment, through `parent_id`)."""

    comment_id: str
    post_id: str
    parent_id: str
    source: str
    author: str
    published_at: datetime
    available_at: datetime
    symbols: tuple[str, ...]
    body: str

    kind = TextKind.COMMENT

    def __post_init__(self) -> None:
        _store_utc(self, "published_at", self.published_at, "published_at")
        _store_utc(self, "available_at", self.available_at, "available_at")


def _store_utc(record: object, attribute: str, value: datetime, name: str) -> None:
    """Store a frozen record's time `attribute` in UTC. One already in UTC stays as it was set:
    ensure_utc would return it unchanged, and a set-by-name costs more than the check."""
    if value.tzinfo is not UTC:
        object.__setattr__(record, attribute, ensure_utc(value, name=name))


def _require_positive_finite(value: Decimal, name: str) -> None:
    if not value.is_finite() or value <= 0:
        raise DataError(f"must be a positive finite number, got {value}", field=name)


@slot_init
@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: str
    strategy: str
    instrument: Instrument
    side: Side
    order_type: OrderType
    quantity: Decimal
    created_at: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    status: OrderStatus = OrderStatus.NEW
    mode: Mode = Mode.BACKTEST

    def __post_init__(self) -> None:
        _store_utc(self, "created_at", self.created_at, "created_at")
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ProgrammerError(f"{self.client_order_id}: a limit order needs limit_price")
        if self.order_type is OrderType.STOP and self.stop_price is None:
            raise ProgrammerError(f"{self.client_order_id}: a stop order needs stop_price")

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign


@slot_init
@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    filled_at: datetime

    def __post_init__(self) -> None:
        _store_utc(self, "filled_at", self.filled_at, "filled_at")
        _require_positive_finite(self.quantity, "Fill.quantity")
        _require_positive_finite(self.price, "Fill.price")

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@slot_init
@dataclass(frozen=True, slots=True)
class OrderEnded:
    """An order that ended with part of it never filled, when nothing more is planned or
    working for its symbol: the plan it belonged to is over short of its target.

    `reason` is the order's end: "cancelled" (the venue cancelled the rest, e.g. an IOC
    cut short by the volume cap), "expired" (a passive slice's window closed), "rejected"
    (the venue refused it), "refused" (the open circuit breaker kept it from the venue)
    or "denied: <reason>" (the risk gate refused it; never sent).
    """

    client_order_id: str
    symbol: str
    side: Side
    unfilled: Decimal
    reason: str
    ended_at: datetime

    def __post_init__(self) -> None:
        _store_utc(self, "ended_at", self.ended_at, "ended_at")
        _require_positive_finite(self.unfilled, "OrderEnded.unfilled")


@slot_init
@dataclass(frozen=True, slots=True)
class Position:
    """Net position in one symbol with its average entry price and realised PnL."""

    symbol: str
    quantity: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply(self, fill: Fill) -> Position:
        """The position after `fill`; realises PnL on the part that reduces exposure."""
        signed = fill.quantity * fill.side.sign
        new_quantity = self.quantity + signed
        realized = self.realized_pnl - fill.fee
        same_direction = self.quantity == 0 or (self.quantity > 0) == (signed > 0)
        if same_direction:
            total_cost = self.average_price * abs(self.quantity) + fill.price * fill.quantity
            average = total_cost / abs(new_quantity)
            return Position(self.symbol, new_quantity, average, realized)
        closed = min(abs(signed), abs(self.quantity))
        direction = 1 if self.quantity > 0 else -1
        realized += (fill.price - self.average_price) * closed * direction
        if new_quantity == 0:
            average = Decimal(0)
        elif (new_quantity > 0) == (self.quantity > 0):
            average = self.average_price
        else:
            average = fill.price
        return Position(self.symbol, new_quantity, average, realized)


@dataclass(frozen=True, slots=True)
class Prediction:
    """Per-horizon model outputs for one symbol as of one decision time."""

    symbol: str
    asof: datetime
    expected_return: dict[Horizon, float]
    signal_confidence: dict[Horizon, float]
    vol_forecast: dict[Horizon, float]
    model_versions: dict[Horizon, str] = field(default_factory=dict)
    contract_hash: str = ""
    max_input_available_at: datetime | None = None

    def __post_init__(self) -> None:
        _store_utc(self, "asof", self.asof, "asof")
        for name in ("expected_return", "signal_confidence", "vol_forecast"):
            for horizon, value in getattr(self, name).items():
                if not isfinite(value):
                    raise DataError(f"{horizon} value is not finite", field=name)
        for horizon, confidence in self.signal_confidence.items():
            if not 0.0 <= confidence <= 1.0:
                raise DataError(
                    f"{horizon} confidence {confidence} outside [0, 1]", field="signal_confidence"
                )
