"""The signals currently in force: each strategy's latest target per symbol.

Strategies emit a signal when their target changes, not on every bar, so the
engine keeps the latest one per (strategy, symbol) here and hands `active()` to
the allocator at each rebalance. An exit (target 0) removes the entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quantgate.core.signals import Signal


class SignalBook:
    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Signal] = {}

    def update(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            key = (signal.strategy, signal.symbol)
            if signal.is_exit:
                self._latest.pop(key, None)
            else:
                self._latest[key] = signal

    def active(self) -> list[Signal]:
        """Non-exit signals ordered by (strategy, symbol), so allocations are reproducible."""
        return [self._latest[key] for key in sorted(self._latest)]

    def symbols(self) -> list[str]:
        return sorted({symbol for _, symbol in self._latest})

    def __len__(self) -> int:
        return len(self._latest)

    def checkpoint(self) -> list[dict[str, Any]]:
        return [signal.to_dict() for signal in self.active()]

    @classmethod
    def restore(cls, payload: Iterable[dict[str, Any]]) -> SignalBook:
        book = cls()
        book.update(Signal.from_dict(item) for item in payload)
        return book
