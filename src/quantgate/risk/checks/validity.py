"""Checks that the order is well formed: finite positive quantity and prices (below 10**20),
on lot and tick."""

from __future__ import annotations

from decimal import Decimal

from quantgate.core.enums import DenyReason
from quantgate.risk.checks.base import CheckInput, own_prices
from quantgate.risk.decision import Denial

ZERO = Decimal(0)  # an int operand is converted to a Decimal at every comparison
# Orders and decisions are stored as NUMERIC(38, 18): 20 digits before the point. Nothing
# real comes near (10**20 units, or a price of 10**20); such a figure is a fat finger,
# denied like a negative one rather than failing where it is written.
RECORDABLE_LIMIT = Decimal(10) ** 20


def _positive_finite(value: Decimal) -> bool:
    # is_finite first: comparing a NaN Decimal raises instead of returning False.
    return value.is_finite() and ZERO < value < RECORDABLE_LIMIT


def quantity_valid(inputs: CheckInput) -> Denial | None:
    quantity = inputs.order.quantity
    if not _positive_finite(quantity):
        return Denial(DenyReason.INVALID_QUANTITY, {"quantity": str(quantity)})
    return None


def prices_valid(inputs: CheckInput) -> Denial | None:
    for name, price in own_prices(inputs.order):
        if not _positive_finite(price):
            return Denial(DenyReason.INVALID_PRICE, {name: str(price)})
    return None


def on_lot(inputs: CheckInput) -> Denial | None:
    instrument = inputs.order.instrument
    if not instrument.is_on_lot(inputs.order.quantity):
        detail = {"quantity": str(inputs.order.quantity), "lot_size": str(instrument.lot_size)}
        return Denial(DenyReason.LOT_SIZE, detail)
    return None


def on_tick(inputs: CheckInput) -> Denial | None:
    instrument = inputs.order.instrument
    for name, price in own_prices(inputs.order):
        if not instrument.is_on_tick(price):
            return Denial(
                DenyReason.TICK_SIZE, {name: str(price), "tick_size": str(instrument.tick_size)}
            )
    return None
