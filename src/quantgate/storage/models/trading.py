"""Trading tables: the order outbox, fills, the execution trace and risk state (revision 0003).

Every row carries a `scope` (e.g. "live", "paper", "backtest-<run id>") so a backtest
sharing a database with paper trading never sees paper's orders, reservations,
latches or order-rate history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from sqlalchemy import Float, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from quantgate.core.errors import ProgrammerError
from quantgate.storage.models.base import Base

_SCALE = Decimal(1).scaleb(-18)
# NUMERIC(38, 18) holds 20 digits before the point; SQLite's text column follows it so that
# both backends store the same values. A quantity of 15 billion tokens at 0.00001 is a
# plausible order, so the range is the column's, not the default context's (28 digits).
STORABLE_WHOLE_DIGITS = 20
# Enough digits to round any storable value to 18 places exactly.
_STORAGE_CONTEXT = Context(prec=STORABLE_WHOLE_DIGITS + 20, rounding=ROUND_HALF_EVEN)
_STORABLE_LIMIT = Decimal(10) ** STORABLE_WHOLE_DIGITS


def is_storable_decimal(value: Decimal) -> bool:
    """Whether an ExactDecimal column can hold `value` (finite, under 10**20 in magnitude)."""
    return value.is_finite() and value.copy_abs() < _STORABLE_LIMIT


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal money and quantities, exact on both backends.

    SQLAlchemy's Numeric goes through float on SQLite (100.1 comes back as
    100.099999999999994316), so SQLite stores the decimal's text instead;
    PostgreSQL keeps NUMERIC(38, 18). Values are rounded to 18 places before
    binding so both backends return the same number.
    """

    impl = Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 18))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        rounded = _rounded(value)
        return _text(rounded) if dialect.name == "sqlite" else rounded

    def bind_processor(self, dialect: Dialect) -> Callable[[Decimal | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # One call per value instead of the decorator's chain of two: the trading tables
        # bind a few hundred thousand of these in a long backtest.
        def process(value: Decimal | None) -> str | None:
            if value is None:
                return None
            if value.__class__ is not Decimal or not value.is_finite():
                _rounded(value)  # raises, naming the value
            # A value with at most 18 places needs no rounding: written without an exponent,
            # its text is its str() less trailing zeros (what normalising drops), for a
            # fraction of the cost. Anything else, or too long to round, takes the full path.
            text = str(value)
            point = text.find(".")
            if "E" not in text and "e" not in text:
                if point < 0:
                    if len(text) <= STORABLE_WHOLE_DIGITS:
                        return text
                elif point <= STORABLE_WHOLE_DIGITS and len(text) - point <= 19:
                    return text.rstrip("0").rstrip(".") if text[-1] == "0" else text
            return _text(_rounded(value))

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _rounded(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ProgrammerError(f"refusing to store {value!r}: expected a finite Decimal")
    if value.copy_abs() >= _STORABLE_LIMIT:
        raise ProgrammerError(
            f"refusing to store {value}: NUMERIC(38, 18) holds at most "
            f"{STORABLE_WHOLE_DIGITS} digits before the point"
        )
    return value.quantize(_SCALE, context=_STORAGE_CONTEXT)


def _text(value: Decimal) -> str:
    return format(value.normalize(context=_STORAGE_CONTEXT), "f")


class OrderRow(Base):
    """The outbox: an order is written here before it is sent, and its life is tracked here."""

    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(128))
    venue: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    stop_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    status: Mapped[str] = mapped_column(String(24))
    filled_quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    filled_notional: Mapped[Decimal] = mapped_column(ExactDecimal())
    fees: Mapped[Decimal] = mapped_column(ExactDecimal())
    venue_order_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(String(64))
    decision_time: Mapped[datetime]
    decision_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    arrival_mid: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    modelled_impact_bps: Mapped[float] = mapped_column(Float)
    modelled_half_spread_bps: Mapped[float] = mapped_column(Float)
    intent: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_orders_scope_status", "scope", "status"),)


class FillRow(Base):
    """A fill as the venue reported it; the unique venue trade id makes a replay harmless."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    venue: Mapped[str] = mapped_column(String(64))
    trade_id: Mapped[str] = mapped_column(String(128))
    client_order_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    fee: Mapped[Decimal] = mapped_column(ExactDecimal())
    filled_at: Mapped[datetime]
    recorded_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("venue", "trade_id", name="uq_fills_venue_trade_id"),
        Index("ix_fills_client_order_id", "client_order_id"),
        # The fill watermark of a checkpoint (engine.checkpoint) and the fills after it.
        Index("ix_fills_scope_id", "scope", "id"),
    )


class ExecutionTraceRow(Base):
    """One row per fill, with the same columns in backtest, paper and live."""

    __tablename__ = "execution_trace"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    venue: Mapped[str] = mapped_column(String(64))
    trade_id: Mapped[str] = mapped_column(String(128))
    client_order_id: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    decision_time: Mapped[datetime]
    filled_at: Mapped[datetime]
    decision_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    arrival_mid: Mapped[Decimal] = mapped_column(ExactDecimal())
    fill_price: Mapped[Decimal] = mapped_column(ExactDecimal())
    slippage_bps: Mapped[float] = mapped_column(Float)
    arrival_slippage_bps: Mapped[float] = mapped_column(Float)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal())
    impact_bps: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("venue", "trade_id", name="uq_execution_trace_venue_trade_id"),
        Index("ix_execution_trace_scope_filled", "scope", "filled_at"),
    )


class RiskGateDecisionRow(Base):
    """Every risk gate decision, allowed or denied, with the figures behind it."""

    __tablename__ = "risk_gate_decisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    client_order_id: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[str] = mapped_column(String(64))  # text: a denied NaN must be recorded too
    price: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(8))  # "allowed" | "denied"
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    decided_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_risk_gate_decisions_scope_decided", "scope", "decision", "decided_at"),
        Index("ix_risk_gate_decisions_strategy", "scope", "strategy", "symbol", "decided_at"),
        Index("ix_risk_gate_decisions_order", "client_order_id"),
    )


class RiskStateRow(Base):
    """Persisted risk state: latches (kill switch, daily loss), disabled strategies, the
    daily PnL anchor and the row the gate locks to serialise check-and-reserve."""

    __tablename__ = "risk_state"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    active: Mapped[bool]
    value: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime]


class RiskStateEventRow(Base):
    """Audit trail of every risk state change: who, when, why."""

    __tablename__ = "risk_state_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]
    at: Mapped[datetime]

    __table_args__ = (Index("ix_risk_state_events_scope_at", "scope", "at"),)


class RiskReservationRow(Base):
    """Exposure held by an allowed order until it fills or ends (reserved exposure)."""

    __tablename__ = "risk_reservations"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    remaining: Mapped[Decimal] = mapped_column(ExactDecimal())
    # `remaining` is text on SQLite, so "still open" is its own column to filter on.
    open: Mapped[bool]
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_risk_reservations_scope_open", "scope", "open"),)
