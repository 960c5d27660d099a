"""trading: order outbox, fills, execution trace, risk decisions, risk state and reservations

Revision ID: 0003_trading
Revises: 0002_data
Create Date: 2026-11-28
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0003_trading"
down_revision = "0002_data"
branch_labels = None
depends_on = None


def _decimal() -> sa.types.TypeEngine[Decimal]:
    # Same DDL as the models' ExactDecimal: text on SQLite (its NUMERIC goes through
    # float), NUMERIC(38, 18) on PostgreSQL. Spelled out here so this revision never
    # changes when model code does.
    return sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("limit_price", _decimal(), nullable=True),
        sa.Column("stop_price", _decimal(), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("filled_quantity", _decimal(), nullable=False),
        sa.Column("filled_notional", _decimal(), nullable=False),
        sa.Column("fees", _decimal(), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("decision_time", UTCDateTime(), nullable=False),
        sa.Column("decision_price", _decimal(), nullable=False),
        sa.Column("arrival_mid", _decimal(), nullable=True),
        sa.Column("modelled_impact_bps", sa.Float(), nullable=False),
        sa.Column("modelled_half_spread_bps", sa.Float(), nullable=False),
        sa.Column("intent", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_scope_status", "orders", ["scope", "status"])
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("fee", _decimal(), nullable=False),
        sa.Column("filled_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fills"),
        sa.UniqueConstraint("venue", "trade_id", name="uq_fills_venue_trade_id"),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])
    op.create_table(
        "execution_trace",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("decision_time", UTCDateTime(), nullable=False),
        sa.Column("filled_at", UTCDateTime(), nullable=False),
        sa.Column("decision_price", _decimal(), nullable=False),
        sa.Column("arrival_mid", _decimal(), nullable=False),
        sa.Column("fill_price", _decimal(), nullable=False),
        sa.Column("slippage_bps", sa.Float(), nullable=False),
        sa.Column("arrival_slippage_bps", sa.Float(), nullable=False),
        sa.Column("fee", _decimal(), nullable=False),
        sa.Column("impact_bps", sa.Float(), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_trace"),
        sa.UniqueConstraint("venue", "trade_id", name="uq_execution_trace_venue_trade_id"),
    )
    op.create_index("ix_execution_trace_scope_filled", "execution_trace", ["scope", "filled_at"])
    op.create_table(
        "risk_gate_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=True),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_gate_decisions"),
    )
    op.create_index(
        "ix_risk_gate_decisions_scope_decided",
        "risk_gate_decisions",
        ["scope", "decision", "decided_at"],
    )
    op.create_index(
        "ix_risk_gate_decisions_strategy",
        "risk_gate_decisions",
        ["scope", "strategy", "symbol", "decided_at"],
    )
    op.create_index("ix_risk_gate_decisions_order", "risk_gate_decisions", ["client_order_id"])
    op.create_table(
        "risk_state",
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "kind", "key", name="pk_risk_state"),
    )
    op.create_table(
        "risk_state_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_state_events"),
    )
    op.create_index("ix_risk_state_events_scope_at", "risk_state_events", ["scope", "at"])
    op.create_table(
        "risk_reservations",
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("remaining", _decimal(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_risk_reservations"),
    )
    op.create_index("ix_risk_reservations_scope_open", "risk_reservations", ["scope", "open"])


def downgrade() -> None:
    op.drop_index("ix_risk_reservations_scope_open", table_name="risk_reservations")
    op.drop_table("risk_reservations")
    op.drop_index("ix_risk_state_events_scope_at", table_name="risk_state_events")
    op.drop_table("risk_state_events")
    op.drop_table("risk_state")
    op.drop_index("ix_risk_gate_decisions_order", table_name="risk_gate_decisions")
    op.drop_index("ix_risk_gate_decisions_strategy", table_name="risk_gate_decisions")
    op.drop_index("ix_risk_gate_decisions_scope_decided", table_name="risk_gate_decisions")
    op.drop_table("risk_gate_decisions")
    op.drop_index("ix_execution_trace_scope_filled", table_name="execution_trace")
    op.drop_table("execution_trace")
    op.drop_index("ix_fills_client_order_id", table_name="fills")
    op.drop_table("fills")
    op.drop_index("ix_orders_scope_status", table_name="orders")
    op.drop_table("orders")
