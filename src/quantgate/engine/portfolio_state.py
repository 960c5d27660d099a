"""The book: cash and positions from fills, equity marked to the latest bar close.

Money is Decimal: a fill moves cash by -signed quantity × price - fee and
updates the position with `core.Position.apply` (average price, realised PnL
net of fees). Floats mirror cash and quantities so that marking the book on
every bar (the equity curve, the daily-loss pre-check) costs a few float
multiplications; anything that is reported as money is recomputed in Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quantgate.core.types import Fill, Position

ZERO = Decimal(0)


def price_decimal(value: float) -> Decimal:
    """A float price or volume as the Decimal it was written as (shortest repr)."""
    return Decimal(repr(value))


class PortfolioState:
    def __init__(self, cash: Decimal) -> None:
        self.initial_cash = cash
        self.cash = cash
        self.positions: dict[str, Position] = {}
        self.fees = ZERO
        self.traded_notional = ZERO
        self.fill_count = 0
        self._cash_f = float(cash)
        # Non-zero positions by symbol, in symbol order, kept up to date by `apply`.
        self._held: dict[str, Decimal] = {}
        self._held_f: dict[str, float] = {}

    # -- fills -----------------------------------------------------------------------------

    def apply(self, fill: Fill) -> Position:
        """Book one fill; returns the symbol's position after it."""
        symbol = fill.symbol
        before = self.positions.get(symbol) or Position(symbol)
        after = before.apply(fill)
        notional = fill.quantity * fill.price
        self.cash -= fill.side.sign * notional + fill.fee
        self.fees += fill.fee
        self.traded_notional += notional
        self.fill_count += 1
        self.positions[symbol] = after
        self._cash_f = float(self.cash)
        quantity = after.quantity
        if quantity == 0:
            self._held.pop(symbol, None)
            self._held_f.pop(symbol, None)
        elif symbol in self._held:
            self._held[symbol] = quantity
            self._held_f[symbol] = float(quantity)
        else:
            self._held[symbol] = quantity
            self._held_f[symbol] = float(quantity)
            # Symbol order, always: float sums then do not depend on the order of past fills
            # (a restored book must mark to exactly the same equity as the original).
            self._held = dict(sorted(self._held.items()))
            self._held_f = dict(sorted(self._held_f.items()))
        return after

    # -- reading ---------------------------------------------------------------------------

    def quantity(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return ZERO if position is None else position.quantity

    def held(self) -> dict[str, Decimal]:
        """Non-zero positions, by symbol."""
        return dict(self._held)

    @property
    def cash_float(self) -> float:
        return self._cash_f

    @property
    def is_flat(self) -> bool:
        return not self._held_f

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus every position at its mark (exact)."""
        total = self.cash
        # In symbol order: Decimal sums round at 28 digits, so the order is part of the result.
        for symbol, quantity in self._held.items():
            total += quantity * marks[symbol]
        return total

    def equity_float(self, closes: Mapping[str, float]) -> float:
        """The same in float64, for the equity curve and cheap per-bar checks."""
        total = self._cash_f
        for symbol, quantity in self._held_f.items():
            total += quantity * closes[symbol]
        return total

    def gross_float(self, closes: Mapping[str, float]) -> float:
        return sum(abs(q) * closes[s] for s, q in self._held_f.items())

    def marks_float(self, closes: Mapping[str, float]) -> tuple[float, float]:
        """`equity_float(closes)` and `gross_float(closes)` in one pass: the same sums,
        term by term (sum() adds floats one by one from 0)."""
        equity = self._cash_f
        gross: float = 0  # not 0.0: an empty sum() is the int 0
        for symbol, quantity in self._held_f.items():
            close = closes[symbol]
            equity += quantity * close
            gross += abs(quantity) * close
        return equity, gross

    def realized_pnl(self) -> Decimal:
        """Realised PnL net of fees, summed over symbols."""
        return sum((p.realized_pnl for _, p in sorted(self.positions.items())), ZERO)

    # -- persistence -------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return {
            "initial_cash": str(self.initial_cash),
            "cash": str(self.cash),
            "fees": str(self.fees),
            "traded_notional": str(self.traded_notional),
            "fill_count": self.fill_count,
            "positions": {
                symbol: {
                    "quantity": str(p.quantity),
                    "average_price": str(p.average_price),
                    "realized_pnl": str(p.realized_pnl),
                }
                for symbol, p in sorted(self.positions.items())
            },
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any]) -> PortfolioState:
        book = cls(Decimal(state["initial_cash"]))
        book.cash = Decimal(state["cash"])
        book.fees = Decimal(state["fees"])
        book.traded_notional = Decimal(state["traded_notional"])
        book.fill_count = int(state["fill_count"])
        book.positions = {
            symbol: Position(
                symbol,
                Decimal(entry["quantity"]),
                Decimal(entry["average_price"]),
                Decimal(entry["realized_pnl"]),
            )
            for symbol, entry in state["positions"].items()
        }
        book._cash_f = float(book.cash)
        book._held = {s: p.quantity for s, p in sorted(book.positions.items()) if p.quantity != 0}
        book._held_f = {s: float(q) for s, q in book._held.items()}
        return book
