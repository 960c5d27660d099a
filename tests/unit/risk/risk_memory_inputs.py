"""Recording allowed decisions in a RiskMemory's history, for the memory tests."""

from __future__ import annotations

from datetime import datetime

from quantgate.core import Order
from quantgate.risk.memory import AllowedDecision, AllowedHistory, order_content


def allowed(history: AllowedHistory, the_order: Order, at: datetime) -> None:
    history.add(
        AllowedDecision(
            history.next_sequence,
            the_order.client_order_id,
            the_order.strategy,
            the_order.instrument.symbol,
            order_content(the_order),
            at,
        )
    )
