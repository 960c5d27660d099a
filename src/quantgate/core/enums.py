"""Enumerations shared by every layer."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class Horizon(StrEnum):
    """Prediction horizons; the value is the wire name used in JSON and configs."""

    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    D7 = "7d"

    @property
    def duration(self) -> timedelta:
        return _HORIZON_DURATIONS[self]

    @property
    def hours(self) -> int:
        return int(self.duration.total_seconds() // 3600)


_HORIZON_DURATIONS = {
    Horizon.H1: timedelta(hours=1),
    Horizon.H4: timedelta(hours=4),
    Horizon.D1: timedelta(days=1),
    Horizon.D7: timedelta(days=7),
}


class Mode(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


class AssetClass(StrEnum):
    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERP = "crypto_perp"
    US_EQUITY = "us_equity"


class Bucket(StrEnum):
    """Groups of instruments that share a factor and a risk cap."""

    MAJORS = "majors"
    L1 = "l1"
    PAYMENTS = "payments"
    MEME = "meme"
    OTHER = "other"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class OrderStatus(StrEnum):
    NEW = "new"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


# Also for hot loops that test membership directly (no property call).
TERMINAL_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class TextKind(StrEnum):
    POST = "post"
    COMMENT = "comment"


class DenyReason(StrEnum):
    """Why the risk gate refused an order; business rejections are values, not exceptions."""

    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_POSITION_SYMBOL = "max_position_symbol"
    MAX_POSITION_BUCKET = "max_position_bucket"
    GROSS_EXPOSURE = "gross_exposure"
    DAILY_LOSS_LATCHED = "daily_loss_latched"
    NO_FRESH_REFERENCE = "no_fresh_reference"
    SPREAD_TOO_WIDE = "spread_too_wide"
    PRICE_COLLAR = "price_collar"
    ORDER_RATE = "order_rate"
    DUPLICATE_ORDER = "duplicate_order"
    STRATEGY_DISABLED = "strategy_disabled"
    TICK_SIZE = "tick_size"
    LOT_SIZE = "lot_size"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    KILL_SWITCH = "kill_switch"
