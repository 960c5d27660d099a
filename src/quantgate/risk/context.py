"""What the engine tells the gate about the market and the book when it asks about an order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    # Worked out on first use and kept: every order of an event values the book by the same
    # quotes, so each is judged and averaged once rather than once per symbol per order.
    _usable: bool | None = field(default=None, init=False, repr=False, compare=False)
    _mid: Decimal | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A time already in UTC is what ensure_utc would return (astimezone to its own zone
        # is the same object); the engine builds a quote per symbol per event, so skip it.
        if self.at.tzinfo is not UTC:
            object.__setattr__(self, "at", ensure_utc(self.at, name="Quote.at"))

    @classmethod
    def at_price(cls, price: Decimal, at: datetime, spread_bps: Decimal = Decimal(0)) -> Quote:
        half = price * spread_bps / BPS / 2
        return cls(bid=price - half, ask=price + half, at=at)

    @property
    def usable(self) -> bool:
        """Finite, positive and not crossed; anything else is no reference at all."""
        usable = self._usable
        if usable is None:
            bid, ask = self.bid, self.ask
            usable = bid.is_finite() and ask.is_finite() and bid > 0 and ask >= bid
            object.__setattr__(self, "_usable", usable)
        return usable

    @property
    def mid(self) -> Decimal:
        mid = self._mid
        if mid is None:
            mid = (self.bid + self.ask) / 2
            object.__setattr__(self, "_mid", mid)
        return mid

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
