"""Checks on the order alone: quantity and notional caps."""

from __future__ import annotations

from quantgate.core.enums import DenyReason
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import Denial


def order_quantity(inputs: CheckInput) -> Denial | None:
    limit = inputs.limits.order_quantity_limit(inputs.symbol)
    if limit is not None and inputs.order.quantity > limit:
        detail = {"quantity": str(inputs.order.quantity), "limit": str(limit)}
        return Denial(DenyReason.MAX_ORDER_QUANTITY, detail)
    return None


def order_notional(inputs: CheckInput) -> Denial | None:
    notional = inputs.order_notional()
    if notional is None:  # unreachable after reference_fresh; kept so this check stands alone
        return None
    limit = inputs.limits.max_order_notional
    if notional > limit:
        price = inputs.order_price()
        detail = {"notional": str(notional), "price": str(price), "limit": str(limit)}
        return Denial(DenyReason.MAX_ORDER_NOTIONAL, detail)
    return None
