"""The legacy allocator: equal weight over active signals, signed by direction.

Each active position gets 1/N of equity, N the number of active positions: a
lone signal is one, in its direction; the legs of a group (a pair: long one
symbol, short |β| of another) are one together, their share split over the legs
as the strategy sized them (by |target_exposure|), so the hedge ratio holds.
Signals on the same symbol net. Gross exposure is therefore at most 1 whatever
the signals say. It needs no risk model, which is why it is the
fallback when allocator_v2 cannot trust its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from quantgate.core.signals import Signal
from quantgate.portfolio.result import AllocationResult
from quantgate.portfolio.views import leg_groups


class LegacyAllocator:
    name: ClassVar[str] = "legacy"

    def allocate(
        self,
        signals: Sequence[Signal],
        *,
        requested: str = "legacy",
        fallback_reason: str | None = None,
    ) -> AllocationResult:
        active = [signal for signal in signals if not signal.is_exit]
        legs = leg_groups(active)
        positions = len(active) - sum(len(members) - 1 for members in legs.values())
        share = 1.0 / positions if positions else 0.0
        # Summed exactly (fsum): a symbol several signals trade gets bit-identical weights
        # whatever order the caller listed them in.
        parts: dict[str, list[float]] = {signal.symbol: [] for signal in signals}
        for signal in active:
            members = legs.get((signal.strategy, signal.group)) if signal.group else None
            fraction = 1.0 if members is None else _leg_fraction(signal, members)
            parts[signal.symbol].append(signal.direction * share * fraction)
        weights = {symbol: math.fsum(values) for symbol, values in parts.items()}
        ordered = dict(sorted(weights.items()))
        return AllocationResult(
            allocator_used=self.name,
            requested=requested,
            target_weights=ordered,
            bound_constraints=[],
            fallback_reason=fallback_reason,
            diagnostics={
                "active_signals": len(active),
                "active_positions": positions,
                # Symbols that move together (a pair's legs): caps applied later scale them
                # as one (fallback_caps), never one leg alone.
                "groups": {
                    f"{strategy}:{group}": sorted({m.symbol for m in members})
                    for (strategy, group), members in sorted(legs.items())
                },
                "gross": sum(abs(w) for w in ordered.values()),
                "net": sum(ordered.values()),
            },
        )


def _leg_fraction(signal: Signal, members: Sequence[Signal]) -> float:
    """The leg's part of its group's share: its |target_exposure| over the group's (active
    signals have a non-zero exposure, so the total is positive)."""
    return abs(signal.target_exposure) / math.fsum(abs(m.target_exposure) for m in members)
