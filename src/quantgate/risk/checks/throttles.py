"""Checks on order history: duplicates, the order rate, and a strategy that will not stop."""

from __future__ import annotations

from quantgate.core.enums import DenyReason
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import Denial, Effect


def not_duplicate(inputs: CheckInput) -> Denial | None:
    duplicate_of = inputs.snapshot.duplicate_of
    if duplicate_of is not None:
        return Denial(DenyReason.DUPLICATE_ORDER, {"duplicate_of": duplicate_of})
    return None


def order_rate(inputs: CheckInput) -> Denial | None:
    count, limit = inputs.snapshot.orders_in_rate_window, inputs.limits.max_orders_per_window
    if count >= limit:
        detail = {
            "orders_in_window": count,
            "limit": limit,
            "window_seconds": inputs.limits.order_rate_window_seconds,
        }
        return Denial(DenyReason.ORDER_RATE, detail)
    return None


def repeated_execution(inputs: CheckInput) -> Denial | None:
    """A strategy trading one symbol this often is looping; stop it until a person looks."""
    count = inputs.snapshot.executions_in_window
    limit = inputs.limits.max_executions_per_strategy_symbol
    if count >= limit:
        detail = {
            "strategy": inputs.order.strategy,
            "symbol": inputs.symbol,
            "executions_in_window": count,
            "limit": limit,
            "window_seconds": inputs.limits.execution_window_seconds,
            "disabled_by": "repeated_execution",
        }
        return Denial(DenyReason.STRATEGY_DISABLED, detail, Effect.DISABLE_STRATEGY)
    return None
