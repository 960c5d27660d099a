"""What the order gateway needs from a risk gate.

The gateway and the gate sit on the same layer and must not import each other,
so the gateway states its needs as a protocol; `quantgate.risk.RiskGate`
satisfies it, and so can a test double.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from quantgate.core.enums import DenyReason
from quantgate.core.types import Order
from quantgate.storage.ledger import ScopeLedger

ContextT_contra = TypeVar("ContextT_contra", contravariant=True)


class RiskVerdict(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def reason(self) -> DenyReason | None: ...

    @property
    def detail(self) -> Mapping[str, Any]: ...


class RiskPort(Protocol[ContextT_contra]):
    @property
    def ledger(self) -> ScopeLedger:
        """The scope's ledger: the gateway writes an order in the same unit of work as the
        gate's decision on it (the gate's calls join the unit open on the thread)."""
        ...

    def check(self, order: Order, context: ContextT_contra) -> RiskVerdict:
        """Decide, record the decision and, when allowed, reserve the order's exposure."""
        ...

    def set_filled(self, client_order_id: str, filled_quantity: Decimal) -> None:
        """The order has this much filled in total; that part no longer needs a reservation."""
        ...

    def release(self, client_order_id: str) -> None:
        """The order ended; whatever it had not filled stops counting toward the limits."""
        ...
