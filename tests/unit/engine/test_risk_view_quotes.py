"""The loop's risk view quotes each close as its own bid and ask; that must be exactly what
Quote.at_price makes of the close with no spread, digit for digit (the gate's decisions
are stored with these figures)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from quantgate.engine.portfolio_state import price_decimal
from quantgate.risk.context import Quote

AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_close_as_bid_and_ask_is_a_zero_spread_quote_digit_for_digit() -> None:
    rng = random.Random(7)
    closes = [0.1, 1.0, 3.0, 1e-9, 1e16, 1e22, 123.456, 65_432.1]
    closes += [10 ** rng.uniform(-8, 12) for _ in range(2000)]
    for close in closes:
        price = price_decimal(close)
        modelled = Quote.at_price(price, AT)
        direct = Quote(price, price, AT)
        assert (str(direct.bid), str(direct.ask)) == (str(modelled.bid), str(modelled.ask))
        assert str(direct.mid) == str(modelled.mid)
