"""What the engine tells the gate about the market and the book when it asks about an order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from quantgate.core.clock import ensure_utc
from quantgate.core.enums import Bucket
from quantgate.core.slots import slot_init, slot_setters

BPS = Decimal(10_000)
# Decimal operands: an int one is converted to a Decimal at every use.
_ZERO, _TWO = Decimal(0), Decimal(2)


@dataclass(frozen=True, slots=True, init=False)
class Quote:
    """A reference price: best bid and ask as of `at` (for bars: last close, spread modelled)."""

    bid: Decimal
    ask: Decimal
    at: datetime
    # Worked out on first use and kept: every order of an event values the book by the same
    # quotes, so each is judged and averaged once rather than once per symbol per order.
    _usable: bool | None = field(default=None, init=False, repr=False, compare=False)
    _mid: Decimal | None = field(default=None, init=False, repr=False, compare=False)

    # Written out, not generated: the engine builds a quote per symbol per event and one
    # more per order, and a frozen dataclass's own __init__ (object.__setattr__ by field
    # name, then __post_init__) cost half as much again as setting the slots directly.
    def __init__(self, bid: Decimal, ask: Decimal, at: datetime) -> None:
        # A time already in UTC is what ensure_utc would return (astimezone to its own zone
        # is the same object), so skip it.
        if at.tzinfo is not UTC:
            at = ensure_utc(at, name="Quote.at")
        _SET_BID(self, bid)
        _SET_ASK(self, ask)
        _SET_AT(self, at)
        _SET_USABLE(self, None)
        _SET_MID(self, None)

    @classmethod
    def at_price(cls, price: Decimal, at: datetime, spread_bps: Decimal = Decimal(0)) -> Quote:
        half = price * spread_bps / BPS / _TWO
        return cls(price - half, price + half, at)  # bid, ask: keywords cost more per call

    @property
    def usable(self) -> bool:
        """Finite, positive and not crossed; anything else is no reference at all."""
        usable = self._usable
        if usable is None:
            bid, ask = self.bid, self.ask
            usable = bid.is_finite() and ask.is_finite() and bid > _ZERO and ask >= bid
            _SET_USABLE(self, usable)
        return usable

    def usable_mid(self) -> Decimal | None:
        """`mid` if the quote is `usable`, else None; one call where valuing a book by its
        quote took two, once per book per order."""
        mid = self._mid
        if mid is not None and self._usable:
            return mid
        return self.mid if self.usable else None

    @property
    def mid(self) -> Decimal:
        mid = self._mid
        if mid is None:
            mid = (self.bid + self.ask) / _TWO
            _SET_MID(self, mid)
        return mid

    @property
    def spread_bps(self) -> Decimal:
        return (self.ask - self.bid) / self.mid * BPS


_SET_BID, _SET_ASK, _SET_AT, _SET_USABLE, _SET_MID = slot_setters(
    Quote, ("bid", "ask", "at", "_usable", "_mid")
)


@slot_init  # one per open position per event
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
