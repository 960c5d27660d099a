"""Whether one long-horizon plan fits under the repeated-execution throttle.

Every slice of a plan is an order to the risk gate's repeated-execution throttle
(`RiskLimits.max_executions_per_strategy_symbol` within `execution_window_seconds`):
a plan whose slices alone reach the limit disables its strategy part-way through,
every time. That is a contradiction in the configuration, refused when it is read,
not a denial found hours into a run.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil

from quantgate.core.enums import Horizon
from quantgate.execution.config import LongHorizonConfig
from quantgate.execution.policies import SHORT_HORIZONS
from quantgate.risk.config import RiskLimits

# The policy's window for a long horizon the config does not list (LongHorizonExec.plan).
_DEFAULT_WINDOW_SECONDS = 86_400


def slices_before_last(slices: int, window_seconds: int, execution_window: float) -> int:
    """How many earlier slices of one plan the gate counts when the last one is checked:
    slices go out every window / slices, and the gate counts orders after now − window."""
    interval = Fraction(window_seconds) / slices
    return min(slices - 1, ceil(Fraction(execution_window) / interval) - 1)


def slice_room_error(long_horizon: LongHorizonConfig, limits: RiskLimits) -> str | None:
    """Why one plan's slices would disable its strategy, naming the fields and the fix;
    None when every long horizon's plan fits (other orders of the strategy and symbol
    share the same room, so a plan near the limit can still meet it)."""
    limit = limits.max_executions_per_strategy_symbol
    execution_window = limits.execution_window_seconds
    for horizon in Horizon:
        if horizon in SHORT_HORIZONS:
            continue
        window = long_horizon.window_seconds.get(horizon, _DEFAULT_WINDOW_SECONDS)
        slices = long_horizon.slices
        if slices_before_last(slices, window, execution_window) < limit:
            continue
        sent = slices_before_last(slices, window, execution_window) + 1
        fitting = next(
            s
            for s in range(slices, 0, -1)
            if slices_before_last(s, window, execution_window) < limit
        )
        return (
            f"long_horizon.slices={slices} over long_horizon.window_seconds[{horizon.value}]="
            f"{window} sends {sent} "
            f"orders of one plan within risk.execution_window_seconds={execution_window:g}, "
            f"and risk.max_executions_per_strategy_symbol={limit} disables the strategy at "
            f"order {limit + 1}: give at most {fitting} slices, a longer window, or a higher "
            "max_executions_per_strategy_symbol"
        )
    return None
