"""Checks on persisted switches: kill switch, disabled strategy, daily loss latch."""

from __future__ import annotations

from decimal import Decimal

from quantgate.core.enums import DenyReason
from quantgate.risk.checks.base import CheckInput
from quantgate.risk.decision import DailyAnchor, Denial, Effect


def kill_switch(inputs: CheckInput) -> Denial | None:
    if inputs.snapshot.kill_switch:
        return Denial(DenyReason.KILL_SWITCH, {"latched": True})
    return None


def strategy_enabled(inputs: CheckInput) -> Denial | None:
    if inputs.order.strategy in inputs.snapshot.disabled_strategies:
        return Denial(DenyReason.STRATEGY_DISABLED, {"strategy": inputs.order.strategy})
    return None


def daily_loss(inputs: CheckInput) -> Denial | None:
    """Latched already, or the loss since the day's anchor reached the limit (which latches)."""
    if inputs.snapshot.daily_loss_latched:
        return Denial(DenyReason.DAILY_LOSS_LATCHED, {"latched": True})
    breach = loss_breach(
        inputs.snapshot.daily_anchor, inputs.context.equity, inputs.limits.max_daily_loss
    )
    if breach is not None:
        return Denial(DenyReason.DAILY_LOSS_LATCHED, breach, Effect.LATCH_DAILY_LOSS)
    return None


def loss_breach(
    anchor: DailyAnchor | None, equity: Decimal | None, limit: Decimal
) -> dict[str, str] | None:
    """The figures of a breached daily loss limit, or None while within it."""
    if anchor is None or equity is None or not equity.is_finite():
        return None
    loss = anchor.equity - equity
    if loss < limit:
        return None
    return {
        "day": anchor.day.isoformat(),
        "anchor_equity": str(anchor.equity),
        "equity": str(equity),
        "loss": str(loss),
        "limit": str(limit),
    }
