"""Checks against the reference price: it must be fresh and tight, and the order's price near it."""

from __future__ import annotations

from quantgate.core.enums import DenyReason
from quantgate.risk.checks.base import CheckInput, float_decimal, own_prices
from quantgate.risk.context import BPS
from quantgate.risk.decision import Denial


def reference_fresh(inputs: CheckInput) -> Denial | None:
    if inputs.fresh_quote() is not None:
        return None
    quote = inputs.context.quotes.get(inputs.symbol)
    detail: dict[str, str] = {"max_age_seconds": str(inputs.limits.max_reference_age_seconds)}
    if quote is None:
        detail["problem"] = "no quote"
    elif not quote.usable:
        detail["problem"] = f"unusable quote bid={quote.bid} ask={quote.ask}"
    else:
        detail["problem"] = "stale quote"
        detail["quote_at"] = quote.at.isoformat()
    return Denial(DenyReason.NO_FRESH_REFERENCE, detail)


def spread_tight(inputs: CheckInput) -> Denial | None:
    quote = inputs.fresh_quote()
    if quote is None:
        return None
    limit = float_decimal(inputs.limits.max_spread_bps)
    spread_bps = quote.spread_bps
    if spread_bps > limit:
        detail = {"spread_bps": f"{spread_bps:.4f}", "limit_bps": str(limit)}
        return Denial(DenyReason.SPREAD_TOO_WIDE, detail)
    return None


def within_collar(inputs: CheckInput) -> Denial | None:
    prices = own_prices(inputs.order)
    if not prices:  # a market order takes the book: there is no price of its own to collar
        return None
    quote = inputs.fresh_quote()
    if quote is None:
        return None
    collar = float_decimal(inputs.limits.price_collar_bps)
    mid = quote.mid
    for name, price in prices:
        distance = abs(price - mid) / mid * BPS
        if distance > collar:
            detail = {
                name: str(price),
                "mid": str(mid),
                "distance_bps": f"{distance:.4f}",
                "collar_bps": str(collar),
            }
            return Denial(DenyReason.PRICE_COLLAR, detail)
    return None
