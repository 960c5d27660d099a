"""Children waiting for their release time.

A newer plan for the same (scope, strategy, symbol) replaces the unsent children
of the older one: targets are absolute, so the old slices would trade toward a
target nobody wants any more. Already-sent children are the gateway's business
(`OrderGateway.cancel_open`). The schedule is in memory on purpose: after a
restart the next decision re-plans from the then-current position.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from quantgate.execution.intent import ChildOrder, ExecutionPlan


class ExecutionSchedule:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], list[ChildOrder]] = {}
        self._lock = threading.Lock()

    def add(self, plan: ExecutionPlan) -> list[ChildOrder]:
        """Queue the plan's children; returns the unsent children it superseded."""
        intent = plan.intent
        key = (intent.scope, intent.strategy, intent.instrument.symbol)
        with self._lock:
            superseded = self._pending.pop(key, [])
            if plan.children:
                self._pending[key] = sorted(plan.children, key=lambda c: c.release_at)
            return superseded

    def due(
        self, now: datetime, order: Callable[[ChildOrder], Any] | None = None
    ) -> list[ChildOrder]:
        """Children whose release time has come, removed from the schedule: oldest first
        (then by client order id), or sorted by `order` (the caller's own order: one sort
        where sorting again after this one took two)."""
        released: list[ChildOrder] = []
        with self._lock:
            for key in list(self._pending):
                children = self._pending[key]
                ready = [child for child in children if child.release_at <= now]
                if not ready:
                    continue
                released.extend(ready)
                rest = [child for child in children if child.release_at > now]
                if rest:
                    self._pending[key] = rest
                else:
                    del self._pending[key]
        return sorted(released, key=order or _oldest_first)

    def pending(self) -> list[ChildOrder]:
        with self._lock:
            return [child for children in self._pending.values() for child in children]


def _oldest_first(child: ChildOrder) -> tuple[datetime, str]:
    return (child.release_at, child.client_order_id)
