"""Execution intents, their child orders, and the deterministic client order id.

The id is a hash of who wants what as of when (scope, strategy, symbol, side,
target, decision time), then the slice. Re-planning the same decision after a crash
or a retry therefore yields the same ids, and the outbox refuses to send an id twice.
Its layout (intent, then slice) is in `quantgate.core.order_ids`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from quantgate.core.clock import LatestIsoformat, ensure_utc
from quantgate.core.enums import Horizon, Mode, Side
from quantgate.core.errors import ProgrammerError
from quantgate.core.order_ids import client_order_id
from quantgate.core.slots import slot_init, slot_setters
from quantgate.core.types import Instrument, Order
from quantgate.execution.brokers.base import TimeInForce
from quantgate.execution.costs import CostBreakdown


def _canonical_decimal(value: Decimal) -> str:
    # 1.0 and 1.00 are the same target and must give the same id.
    return format(value.normalize(), "f")


# Every intent of one decision shares its time.
_time_text = LatestIsoformat()


# Side.value reads the member through the enum's descriptor; a dict lookup costs less.
_SIDE_TEXT = {side: side.value for side in Side}


def derive_client_order_id(
    *,
    scope: str,
    strategy: str,
    symbol: str,
    side: Side,
    target_quantity: Decimal,
    decision_time: datetime,
    slice_index: int,
) -> str:
    if decision_time.tzinfo is not UTC:  # (ensure_utc returns a UTC time as it is)
        decision_time = ensure_utc(decision_time, name="decision_time")
    material = "|".join(
        (
            scope,
            strategy,
            symbol,
            _SIDE_TEXT[side],
            _canonical_decimal(target_quantity),
            _time_text(decision_time),
        )
    )
    digest = hashlib.sha256(material.encode()).hexdigest()
    return client_order_id(digest, slice_index)


@dataclass(frozen=True, slots=True, init=False)
class ExecutionIntent:
    """Move one strategy's position in one symbol from `current_quantity` to `target_quantity`.

    `decision_price` is the theoretical price the decision was made at (the
    last price known at `decision_time`); the trace measures slippage from it.
    """

    scope: str
    strategy: str
    instrument: Instrument
    current_quantity: Decimal
    target_quantity: Decimal
    decision_time: datetime
    decision_price: Decimal
    horizon: Horizon
    mode: Mode
    # target - current, and the side that trades it; worked out once (planning reads them
    # for every child, its id and its cost).
    delta: Decimal = field(init=False, repr=False, compare=False)
    side: Side = field(init=False, repr=False, compare=False)

    # Written out, as risk.context.Quote's: the engine builds one per symbol it trades at
    # every rebalance, and the generated __init__ (object.__setattr__ by field name, then
    # __post_init__) cost about twice as much as setting the slots directly.
    def __init__(
        self,
        scope: str,
        strategy: str,
        instrument: Instrument,
        current_quantity: Decimal,
        target_quantity: Decimal,
        decision_time: datetime,
        decision_price: Decimal,
        horizon: Horizon,
        mode: Mode,
    ) -> None:
        if decision_time.tzinfo is not UTC:  # (ensure_utc returns a UTC time as it is)
            decision_time = ensure_utc(decision_time)
        for name, value in (
            ("current_quantity", current_quantity),
            ("target_quantity", target_quantity),
            ("decision_price", decision_price),
        ):
            if not value.is_finite():
                raise ProgrammerError(f"{strategy}/{instrument.symbol}: {name} not finite")
        if decision_price <= 0:
            raise ProgrammerError(f"{strategy}: decision_price must be positive")
        delta = target_quantity - current_quantity
        _SET_SCOPE(self, scope)
        _SET_STRATEGY(self, strategy)
        _SET_INSTRUMENT(self, instrument)
        _SET_CURRENT(self, current_quantity)
        _SET_TARGET(self, target_quantity)
        _SET_DECISION_TIME(self, decision_time)
        _SET_DECISION_PRICE(self, decision_price)
        _SET_HORIZON(self, horizon)
        _SET_MODE(self, mode)
        _SET_DELTA(self, delta)
        _SET_SIDE(self, Side.BUY if delta > 0 else Side.SELL)

    def client_order_id(self, slice_index: int) -> str:
        return derive_client_order_id(
            scope=self.scope,
            strategy=self.strategy,
            symbol=self.instrument.symbol,
            side=self.side,
            target_quantity=self.target_quantity,
            decision_time=self.decision_time,
            slice_index=slice_index,
        )


(
    _SET_SCOPE,
    _SET_STRATEGY,
    _SET_INSTRUMENT,
    _SET_CURRENT,
    _SET_TARGET,
    _SET_DECISION_TIME,
    _SET_DECISION_PRICE,
    _SET_HORIZON,
    _SET_MODE,
    _SET_DELTA,
    _SET_SIDE,
) = slot_setters(
    ExecutionIntent,
    (
        "scope",
        "strategy",
        "instrument",
        "current_quantity",
        "target_quantity",
        "decision_time",
        "decision_price",
        "horizon",
        "mode",
        "delta",
        "side",
    ),
)


@slot_init
@dataclass(frozen=True, slots=True)
class ChildOrder:
    """One order a policy wants sent at `release_at`, with what the trace needs to know."""

    order: Order
    time_in_force: TimeInForce
    release_at: datetime
    expires_at: datetime | None
    policy: str
    scope: str
    horizon: Horizon
    decision_time: datetime
    decision_price: Decimal
    target_quantity: Decimal
    slice_index: int
    slice_count: int
    # The policy's pre-trade cost estimate at the decision price (None without a model).
    estimate: CostBreakdown | None = None

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def key(self) -> tuple[str, str, str]:
        """Children with the same key belong to the same (scope, strategy, symbol) target."""
        return (self.scope, self.order.strategy, self.order.instrument.symbol)


@slot_init  # one per intent
@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    intent: ExecutionIntent
    policy: str
    children: tuple[ChildOrder, ...]

    @property
    def quantity(self) -> Decimal:
        return sum((child.order.quantity for child in self.children), Decimal(0))

    @property
    def estimated_cost(self) -> Decimal | None:
        """Fees plus spread and impact of the whole plan, as the policy estimated them."""
        estimates = [child.estimate for child in self.children]
        if not estimates or any(estimate is None for estimate in estimates):
            return None
        return sum((e.total for e in estimates if e is not None), Decimal(0))
