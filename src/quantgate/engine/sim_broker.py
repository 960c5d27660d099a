"""The simulated broker with an index of working orders per symbol (backtest and paper).

`SimulatedBroker.on_bar` prices the bar in Decimal and scans every order it
ever accepted, even when nothing is working: ~7 µs per bar idle, and a scan
that grows with the run. This subclass keeps the same matching, costs and
volatility tracking and only adds an index of working orders per symbol:

- a bar of a symbol without working orders only updates the volatility
  tracker — exactly what the full path does when no order is eligible;
- eligibility scans the symbol's working orders (in submission order, so FIFO
  is kept) instead of every order.

Results are identical to `SimulatedBroker` (tests/unit/engine check it bar by
bar); the index is a candidate to move into `SimulatedBroker` itself.
"""

from __future__ import annotations

import threading

from quantgate.core.clock import Clock
from quantgate.core.types import Bar, Order
from quantgate.execution.brokers.base import OrderState, SubmitOutcome, SubmitResult, TimeInForce
from quantgate.execution.brokers.sim import SimulatedBroker, _Working
from quantgate.execution.config import SimBrokerConfig
from quantgate.execution.costs import CostModel


class FastSimulatedBroker(SimulatedBroker):
    def __init__(
        self, clock: Clock, cost_model: CostModel, config: SimBrokerConfig | None = None
    ) -> None:
        super().__init__(clock, cost_model, config)
        self._working_ids: dict[str, dict[str, None]] = {}
        self._index_lock = threading.Lock()

    def submit(self, order: Order, *, time_in_force: TimeInForce = TimeInForce.GTC) -> SubmitResult:
        result = super().submit(order, time_in_force=time_in_force)
        if result.outcome is SubmitOutcome.ACCEPTED:
            with self._index_lock:
                ids = self._working_ids.setdefault(order.instrument.symbol, {})
                ids[order.client_order_id] = None
        return result

    def cancel(self, client_order_id: str) -> OrderState | None:
        state = super().cancel(client_order_id)
        if state is not None and state.status.is_terminal:
            self._forget(client_order_id)
        return state

    def has_working_orders(self, symbol: str | None = None) -> bool:
        with self._index_lock:
            if symbol is not None:
                return bool(self._working_ids.get(symbol))
            return any(self._working_ids.values())

    def on_bar(self, bar: Bar) -> None:
        ids = self._working_ids.get(bar.symbol)
        if not ids:
            with self._lock:
                self._volatility.update(bar.symbol, bar.close)
            return
        super().on_bar(bar)
        with self._lock, self._index_lock:
            for cid in [c for c in ids if self._orders[c].status.is_terminal]:
                del ids[cid]

    def _eligible(self, bar: Bar) -> list[_Working]:
        bar_end = bar.ts + self._interval
        ids = self._working_ids.get(bar.symbol, {})
        return [
            working
            for working in (self._orders[cid] for cid in ids)
            if not working.status.is_terminal
            and bar.available_at > working.submitted_at
            and working.live_at < bar_end
        ]

    def _forget(self, client_order_id: str) -> None:
        with self._index_lock:
            for ids in self._working_ids.values():
                ids.pop(client_order_id, None)

    def volatility(self, symbol: str) -> float | None:
        """The per-bar σ the broker prices fills with (None until warmed up)."""
        with self._lock:
            return self._volatility.sigma(symbol)
