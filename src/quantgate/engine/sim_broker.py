"""The simulated broker with an index of working orders per symbol (backtest and paper).

`SimulatedBroker.on_bar` scans every order it ever accepted, even when nothing
is working: a scan that grows with the run. This subclass keeps the same matching, costs and
volatility tracking and only adds an index of working orders per symbol:

- a bar of a symbol without working orders only updates the volatility
  tracker — exactly what the full path does when no order is eligible; the
  bars of one event (`on_bars`) update it together, after their matching;
- eligibility scans the symbol's working orders (in submission order, so FIFO
  is kept) instead of every order.

Results are identical to `SimulatedBroker` (tests/unit/engine check it bar by
bar); the index is a candidate to move into `SimulatedBroker` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from quantgate.core.clock import Clock
from quantgate.core.enums import TERMINAL_STATUSES
from quantgate.core.types import Bar, Order
from quantgate.execution.brokers.base import OrderState
from quantgate.execution.brokers.sim import SimulatedBroker, _Working
from quantgate.execution.config import SimBrokerConfig
from quantgate.execution.costs import CostModel


class FastSimulatedBroker(SimulatedBroker):
    def __init__(
        self, clock: Clock, cost_model: CostModel, config: SimBrokerConfig | None = None
    ) -> None:
        super().__init__(clock, cost_model, config)
        # Per symbol, its working orders in submission order; a symbol without any has no key.
        self._working_ids: dict[str, dict[str, None]] = {}
        self._index_lock = threading.Lock()

    def _accepted(self, order: Order) -> None:
        # Under the matching lock: indexed only after `submit` returned, a paper order
        # could miss a bar the feed thread matched in between (an IOC its only chance).
        with self._index_lock:
            ids = self._working_ids.setdefault(order.instrument.symbol, {})
            ids[order.client_order_id] = None

    def cancel(self, client_order_id: str) -> OrderState | None:
        state = super().cancel(client_order_id)
        if state is not None and state.status in TERMINAL_STATUSES:
            self._forget(client_order_id)
        return state

    def has_working_orders(self, symbol: str | None = None) -> bool:
        with self._index_lock:
            if symbol is not None:
                return bool(self._working_ids.get(symbol))
            return any(self._working_ids.values())

    def on_bar(self, bar: Bar) -> None:
        self.on_bars((bar,))

    def on_bars(self, bars: Sequence[Bar]) -> None:
        # The same as on_bar bar by bar: match, then update the volatility, which must not
        # inform the costs of the bar's own fills. A symbol's costs read its own estimate
        # only, so the updates can wait and go in one call, unless a later bar of the same
        # symbol (two bars published at once) is to be matched with them.
        with self._lock:
            working = self._working_ids
            if not working:
                self._volatility.update_bars(bars)
                return
            waiting: list[Bar] = []
            waiting_symbols: set[str] = set()
            for bar in bars:
                symbol = bar.symbol
                if symbol in working:
                    if symbol in waiting_symbols:
                        self._volatility.update_bars(waiting)
                        waiting.clear()
                        waiting_symbols.clear()
                    self._match_bar(bar)
                    self._drop_finished(symbol)
                waiting.append(bar)
                waiting_symbols.add(symbol)
            self._volatility.update_bars(waiting)

    def _drop_finished(self, symbol: str) -> None:
        with self._index_lock:
            ids = self._working_ids.get(symbol, {})
            orders = self._orders
            for cid in [c for c in ids if orders[c].status in TERMINAL_STATUSES]:
                del ids[cid]
            if not ids:
                self._working_ids.pop(symbol, None)

    def _eligible(self, bar: Bar) -> list[_Working]:
        bar_end = bar.ts + self._interval
        ids = self._working_ids.get(bar.symbol, {})
        return [
            working
            for working in (self._orders[cid] for cid in ids)
            if working.status not in TERMINAL_STATUSES
            and bar.available_at > working.submitted_at
            and working.live_at < bar_end
        ]

    def _forget(self, client_order_id: str) -> None:
        with self._index_lock:
            for symbol, ids in list(self._working_ids.items()):
                ids.pop(client_order_id, None)
                if not ids:
                    del self._working_ids[symbol]

    def volatility(self, symbol: str) -> float | None:
        """The per-bar σ the broker prices fills with (None until warmed up)."""
        with self._lock:
            return self._volatility.sigma(symbol)
