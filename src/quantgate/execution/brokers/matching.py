"""Where a working order would trade inside one bar, before costs and volume limits.

Bars carry no intrabar path, so the rules are the usual conservative ones:

- market: the bar's open.
- limit, if the open is at or through the limit: marketable, it takes liquidity
  at the open (capped at the limit later, after costs). This holds on any bar,
  not only the first: the remainder of a marketable order the participation cap
  cut short, or a resting order the bar gapped through, trades where the bar
  opened, never at a limit the bar did not trade at.
- limit otherwise, GTC: it rests; if the bar trades through the limit (low strictly
  below a buy, high strictly above a sell) it is hit AT the limit as a maker. A bar
  that only touches the limit proves nothing: the queue ahead of us at that price may
  have taken all that traded there.
- limit otherwise, IOC: nothing. An IOC order can only take what is there when
  it arrives, the open of its first bar; letting it rest for the bar would turn
  it into a maker order filled at its limit.
- stop: triggers when the range reaches the stop; it then trades like a market
  order from the stop price, or from the open when the bar gapped through it.
  Once triggered it stays a market order for any remainder.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NamedTuple

from quantgate.core.enums import OrderType, Side
from quantgate.core.errors import ProgrammerError
from quantgate.core.types import Bar, Order
from quantgate.execution.costs import Liquidity


class BarPrices:
    """A bar's prices as Decimals. Open and volume are read for every fill; high and low
    only by resting and stop orders, so those are converted when asked for."""

    __slots__ = ("_bar", "open", "volume")

    def __init__(self, bar: Bar) -> None:
        self._bar = bar
        # repr of a float is its shortest round-tripping decimal: 100.1 stays 100.1.
        self.open = Decimal(repr(bar.open))
        self.volume = Decimal(repr(bar.volume))

    @classmethod
    def of(cls, bar: Bar) -> BarPrices:
        return cls(bar)

    @property
    def high(self) -> Decimal:
        return Decimal(repr(self._bar.high))

    @property
    def low(self) -> Decimal:
        return Decimal(repr(self._bar.low))


class Touch(NamedTuple):
    """The base price an order trades at in this bar, and how (one per fill: a tuple
    is made for a fraction of a frozen dataclass, which sets each field by name)."""

    price: Decimal
    liquidity: Liquidity
    at_open: bool  # traded at the open (True) or somewhere inside the bar (False)


def touch(order: Order, bar: BarPrices, *, may_rest: bool, triggered: bool) -> Touch | None:
    """Where `order` trades in `bar`, or None when the bar never reaches its price.
    `may_rest` is False for an order that must not wait inside the bar (IOC)."""
    buy = order.side is Side.BUY
    if order.order_type is OrderType.MARKET or triggered:
        return Touch(bar.open, Liquidity.TAKER, at_open=True)
    if order.order_type is OrderType.LIMIT:
        limit = _required(order.limit_price, order, "limit_price")
        crosses_at_open = bar.open <= limit if buy else bar.open >= limit
        if crosses_at_open:
            return Touch(bar.open, Liquidity.TAKER, at_open=True)
        if not may_rest:
            return None
        # The open is on the passive side of the limit, so a range that goes through it
        # traded at it too. Only a strict cross fills a resting order (see the docstring).
        traded_through = bar.low < limit if buy else bar.high > limit
        return Touch(limit, Liquidity.MAKER, at_open=False) if traded_through else None
    stop = _required(order.stop_price, order, "stop_price")
    if (bar.open >= stop) if buy else (bar.open <= stop):
        return Touch(bar.open, Liquidity.TAKER, at_open=True)
    if (bar.high >= stop) if buy else (bar.low <= stop):
        return Touch(stop, Liquidity.TAKER, at_open=False)
    return None


def cap_at_limit(order: Order, price: Decimal) -> Decimal:
    """A limit order never trades worse than its limit, whatever the modelled costs say."""
    if order.order_type is not OrderType.LIMIT or order.limit_price is None:
        return price
    if order.side is Side.BUY:
        return min(price, order.limit_price)
    return max(price, order.limit_price)


def round_to_tick_against(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    """Venues trade on ticks; an off-tick modelled price rounds against us (buy up, sell down)."""
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=rounding) * tick


def floor_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    if quantity <= 0:
        return Decimal(0)
    return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def ceil_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    return (quantity / lot).to_integral_value(rounding=ROUND_CEILING) * lot


def _required(value: Decimal | None, order: Order, name: str) -> Decimal:
    if value is None:
        raise ProgrammerError(f"{order.client_order_id}: {order.order_type} order without {name}")
    return value
