"""What the engine tells the gate about the market and the book when it asks about an order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from quantgate.core.clock import ensure_utc
from quantgate.core.enums import Bucket

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Quote:
    """A reference price: best bid and ask as of `at` (for bars: last close, spread modelled)."""

    bid: Decimal
    ask: Decimal
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", ensure_utc(self.at, name="Quote.at"))

    @classmethod
    def at_price(cls, price: Decimal, at: datetime, spread_bps: Decimal = Decimal(0)) -> Quote:
        half = price * spread_bps / BPS / 2
        return cls(bid=price - half, ask=price + half, at=at)

    @property
    def usable(self) -> bool:
        """Finite, positive and not crossed; anything else is no reference at all."""
        return (
            self.bid.is_finite() and self.ask.is_finite() and self.bid > 0 and self.ask >= self.bid
        )

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread_bps(self) -> Decimal:
        return (self.ask - self.bid) / self.mid * BPS


@dataclass(frozen=True, slots=True)
class Holding:
    """A filled position: signed quantity and the price to value it at."""

    symbol: str
    bucket: Bucket
    quantity: Decimal
    mark_price: Decimal


@dataclass(frozen=True, slots=True)
class RiskContext:
    """`quotes` must hold a fresh quote for the order's symbol; `holdings` every open
    position (filled quantities only: open orders are the gate's own reservations);
    `equity` the account's current marked equity, for the daily loss limit."""

    quotes: Mapping[str, Quote] = field(default_factory=dict)
    holdings: Mapping[str, Holding] = field(default_factory=dict)
    equity: Decimal | None = None
