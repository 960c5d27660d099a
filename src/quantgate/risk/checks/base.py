"""What every check sees, and the price an order is judged at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from quantgate.core.enums import OrderType, Side
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.context import Quote, RiskContext
from quantgate.risk.decision import Denial, RiskSnapshot

_ABSENT: Any = object()  # tells "not worked out yet" from a worked-out None
_LIMIT, _STOP, _BUY = OrderType.LIMIT, OrderType.STOP, Side.BUY  # enum class lookups are slow


# Not frozen: one is built for every order and its memo is mutable anyway; a frozen
# dataclass's __init__ costs three times as much.
@dataclass(slots=True)
class CheckInput:
    order: Order
    context: RiskContext
    snapshot: RiskSnapshot
    limits: RiskLimits
    # Figures several checks derive from the same inputs (the valued books, say), worked
    # out once per order; the quote, price and notional every order needs have slots.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _quote: Any = field(default=_ABSENT, init=False, compare=False, repr=False)
    _price: Any = field(default=_ABSENT, init=False, compare=False, repr=False)
    _notional: Any = field(default=_ABSENT, init=False, compare=False, repr=False)

    @property
    def symbol(self) -> str:
        return self.order.instrument.symbol

    def fresh_quote(self) -> Quote | None:
        """The symbol's quote if it is usable and young enough to judge a price by."""
        quote: Quote | None = self._quote
        if quote is _ABSENT:
            quote = self._quote = self._fresh_quote()
        return quote

    def _fresh_quote(self) -> Quote | None:
        quote = self.context.quotes.get(self.order.instrument.symbol)
        if quote is None or not quote.usable:
            return None
        if self.snapshot.now - quote.at > seconds_delta(self.limits.max_reference_age_seconds):
            return None
        return quote

    def order_price(self) -> Decimal | None:
        """The price the order is judged at: the highest it may trade at, so that neither
        its notional nor the exposure it adds is understated.

        - A market order takes the book: the ask for a buy, the bid for a sell.
        - A buy limit fills at or below its limit: the limit bounds it from above.
        - A sell limit fills at or above its limit, and a marketable one at about the bid:
          the higher of its limit and the bid. Valued at its limit alone, a marketable sell
          limit below the market was undervalued by its whole distance to the bid.
        - A stop becomes a market order once the price passes it and may fill beyond it:
          the higher of the stop and the side of the book it takes (for a buy stop, which
          fills at or above its stop, that is the bound; for a sell stop, the stop or, if
          the bid is above it, the bid).

        None without a fresh reference, except for a buy limit, whose limit is bound enough.
        """
        price: Decimal | None = self._price
        if price is _ABSENT:
            price = self._price = self._order_price()
        return price

    def _order_price(self) -> Decimal | None:
        order = self.order
        buy = order.side is _BUY
        if buy and order.order_type is _LIMIT:
            return order.limit_price
        quote = self.fresh_quote()
        if quote is None:
            return None
        book = quote.ask if buy else quote.bid
        if order.order_type is _LIMIT:
            own = order.limit_price
        elif order.order_type is _STOP:
            own = order.stop_price
        else:
            return book
        if own is None:  # unreachable: an Order has the price its type names
            return book
        return own if own > book else book  # as max(): the own price of two equals

    def book_price(self, reference: Decimal) -> Decimal:
        """The price the order's own symbol is valued at for exposure, given the `reference`
        every other book is valued at (the mid): the order's price when it is higher.
        Positions and open orders of the symbol are valued at this price with and without
        the order, so the order's effect is measured at one price and never below the
        market (a buy limit under the market values the position at the mid, not lower)."""
        price = self.order_price()
        return price if price is not None and price > reference else reference

    def order_notional(self) -> Decimal | None:
        """Quantity times `order_price()`; None without a price."""
        notional: Decimal | None = self._notional
        if notional is _ABSENT:
            price = self.order_price()
            notional = None if price is None else self.order.quantity * price
            self._notional = notional
        return notional


Check = Callable[[CheckInput], Denial | None]


def own_prices(order: Order) -> tuple[tuple[str, Decimal], ...]:
    """The order's own prices by field name, the limit price first; a market order has none."""
    limit_price, stop_price = order.limit_price, order.stop_price
    if limit_price is None:
        return () if stop_price is None else (("stop_price", stop_price),)
    if stop_price is None:
        return (("limit_price", limit_price),)
    return (("limit_price", limit_price), ("stop_price", stop_price))


# The limits are floats fixed for a gate's life; converting them for every order showed in
# profiles. `typed`: 1 and 1.0 are one key otherwise, yet their reprs differ.
@lru_cache(maxsize=64, typed=True)
def float_decimal(value: float) -> Decimal:
    """A float limit as the Decimal it was written as (shortest repr)."""
    return Decimal(repr(value))


@lru_cache(maxsize=64, typed=True)
def seconds_delta(value: float) -> timedelta:
    """A float limit in seconds as a timedelta."""
    return timedelta(seconds=value)
