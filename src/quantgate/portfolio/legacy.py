"""The legacy allocator: equal weight over active signals, signed by direction.

Each active signal gets 1/N of equity in its direction, N the number of active
signals; signals on the same symbol net. Gross exposure is therefore at most 1
whatever the signals say. It needs no risk model, which is why it is the
fallback when allocator_v2 cannot trust its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from quantgate.core.signals import Signal
from quantgate.portfolio.result import AllocationResult


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
        weights = {signal.symbol: 0.0 for signal in signals}
        share = 1.0 / len(active) if active else 0.0
        for signal in active:
            weights[signal.symbol] += signal.direction * share
        ordered = dict(sorted(weights.items()))
        return AllocationResult(
            allocator_used=self.name,
            requested=requested,
            target_weights=ordered,
            bound_constraints=[],
            fallback_reason=fallback_reason,
            diagnostics={
                "active_signals": len(active),
                "gross": sum(abs(w) for w in ordered.values()),
                "net": sum(ordered.values()),
            },
        )
