"""What every check sees, and the price an order is judged at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from quantgate.core.enums import OrderType, Side
from quantgate.core.types import Order
from quantgate.risk.config import RiskLimits
from quantgate.risk.context import Quote, RiskContext
from quantgate.risk.decision import Denial, RiskSnapshot


@dataclass(frozen=True, slots=True)
class CheckInput:
    order: Order
    context: RiskContext
    snapshot: RiskSnapshot
    limits: RiskLimits
    # Figures several checks derive from the same inputs (quote, price, exposures), once.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def symbol(self) -> str:
        return self.order.instrument.symbol

    def fresh_quote(self) -> Quote | None:
        """The symbol's quote if it is usable and young enough to judge a price by."""
        memo = self.memo
        if "fresh_quote" not in memo:
            memo["fresh_quote"] = self._fresh_quote()
        quote: Quote | None = memo["fresh_quote"]
        return quote

    def _fresh_quote(self) -> Quote | None:
        quote = self.context.quotes.get(self.symbol)
        if quote is None or not quote.usable:
            return None
        age = self.snapshot.now - quote.at
        if age > timedelta(seconds=self.limits.max_reference_age_seconds):
            return None
        return quote

    def order_price(self) -> Decimal | None:
        """The price the order would trade at: its own limit or stop, else the side of the
        book a market order takes. None when a market order has no fresh reference."""
        memo = self.memo
        if "order_price" not in memo:
            memo["order_price"] = self._order_price()
        price: Decimal | None = memo["order_price"]
        return price

    def _order_price(self) -> Decimal | None:
        order = self.order
        if order.order_type is OrderType.LIMIT:
            return order.limit_price
        if order.order_type is OrderType.STOP:
            return order.stop_price
        quote = self.fresh_quote()
        if quote is None:
            return None
        return quote.ask if order.side is Side.BUY else quote.bid


Check = Callable[[CheckInput], Denial | None]
