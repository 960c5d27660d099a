"""The gate's checks, in the order they run; the first denial is the decision.

Switches first (kill switch, disabled strategy, daily loss): when they are on,
nothing else matters. Then well-formedness, because later checks do arithmetic
on quantity and price. Then the reference price, history throttles, and the
size and exposure limits, which need a trustworthy price.
"""

from quantgate.risk.checks.base import Check, CheckInput
from quantgate.risk.checks.exposure import bucket_position, gross_exposure, symbol_position
from quantgate.risk.checks.latches import daily_loss, kill_switch, strategy_enabled
from quantgate.risk.checks.reference import reference_fresh, spread_tight, within_collar
from quantgate.risk.checks.size import order_notional, order_quantity
from quantgate.risk.checks.throttles import not_duplicate, order_rate, repeated_execution
from quantgate.risk.checks.validity import on_lot, on_tick, prices_valid, quantity_valid

CHECKS: tuple[Check, ...] = (
    kill_switch,
    strategy_enabled,
    daily_loss,
    quantity_valid,
    prices_valid,
    on_lot,
    on_tick,
    reference_fresh,
    spread_tight,
    within_collar,
    not_duplicate,
    order_rate,
    repeated_execution,
    order_quantity,
    order_notional,
    symbol_position,
    bucket_position,
    gross_exposure,
)

__all__ = ["CHECKS", "Check", "CheckInput"]
