"""The broker port: one interface for the simulated broker (backtest, paper) and live venues.

Outcome contract of `submit`, which the order gateway relies on:

- `SubmitResult.accepted(...)`: the venue has the order.
- `SubmitResult.rejected(reason)`: the venue refused it; it does not exist there.
- `SubmitResult.unknown(reason)`: the request may or may not have reached the venue
  (a timeout, a dropped connection after sending). The gateway keeps the order in
  flight and settles it with `query`; it never sends it again.
- `TemporaryError` is raised only when the order certainly did NOT reach the venue
  (refused connection, rate limit before sending): safe to try later.
- `BrokerError` is raised for failures that will not pass by themselves
  (bad credentials, an unsupported order type).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from quantgate.core.enums import OrderStatus
from quantgate.core.errors import QuantgateError
from quantgate.core.slots import slot_init
from quantgate.core.types import Bar, Fill, Order


class BrokerError(QuantgateError):
    """A broker failure that retrying will not fix."""

    operator_action = "check the venue account, credentials and order parameters"


class TimeInForce(StrEnum):
    GTC = "gtc"  # works until filled or cancelled
    IOC = "ioc"  # fills what it can on its first eligible chance, the rest is cancelled


class SubmitOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@slot_init
@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: SubmitOutcome
    client_order_id: str
    venue_order_id: str | None = None
    reason: str | None = None

    @classmethod
    def accepted(cls, client_order_id: str, venue_order_id: str | None = None) -> SubmitResult:
        return cls(SubmitOutcome.ACCEPTED, client_order_id, venue_order_id)

    @classmethod
    def rejected(cls, client_order_id: str, reason: str) -> SubmitResult:
        return cls(SubmitOutcome.REJECTED, client_order_id, reason=reason)

    @classmethod
    def unknown(cls, client_order_id: str, reason: str) -> SubmitResult:
        return cls(SubmitOutcome.UNKNOWN, client_order_id, reason=reason)


@slot_init
@dataclass(frozen=True, slots=True)
class OrderState:
    """What the venue knows about one order."""

    client_order_id: str
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    fills: tuple[Fill, ...] = ()
    venue_order_id: str | None = None
    reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity


@slot_init
@dataclass(frozen=True, slots=True)
class FillBatch:
    """Fills after a cursor, and the cursor to ask from next time.

    The cursor is opaque to callers (an index for the simulator, a timestamp or
    trade id for a venue). Venues may repeat fills across batches; the gateway
    de-duplicates by venue trade id, so overlapping windows are harmless.
    """

    fills: tuple[Fill, ...]
    cursor: str | None = field(default=None)


class Broker(ABC):
    """Where orders go. Backtest, paper and live differ only in which Broker is plugged in."""

    @property
    @abstractmethod
    def venue(self) -> str:
        """The venue name, which scopes trade ids (they are unique per venue only)."""

    @abstractmethod
    def submit(self, order: Order, *, time_in_force: TimeInForce = TimeInForce.GTC) -> SubmitResult:
        """Send `order`; see the module docstring for what each outcome promises."""

    @abstractmethod
    def cancel(self, client_order_id: str) -> OrderState | None:
        """Cancel what is left of the order; None when the venue does not know the id."""

    @abstractmethod
    def query(self, client_order_id: str) -> OrderState | None:
        """The venue's view of the order; None when the venue does not know the id."""

    @abstractmethod
    def fills_since(self, cursor: str | None) -> FillBatch:
        """Fills reported after `cursor` (None: from the beginning the venue offers)."""

    def on_bar(self, bar: Bar) -> None:  # noqa: B027 - a no-op for live venues on purpose
        """Market data for matching. A live venue matches on its own, so this does nothing;
        the simulated broker matches its working orders against the bar."""

    def on_bars(self, bars: Sequence[Bar]) -> None:
        """The bars of one event, in order: the same as `on_bar` for each (the engine makes
        one call per event; a broker may handle them together)."""
        for bar in bars:
            self.on_bar(bar)
