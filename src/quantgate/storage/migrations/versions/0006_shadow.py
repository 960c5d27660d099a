"""shadow: predictions of shadow model versions next to the active ones

Revision ID: 0006_shadow
Revises: 0005_registry
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0006_shadow"
down_revision = "0005_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("asof", UTCDateTime(), nullable=False),
        sa.Column("active_version_id", sa.String(128), nullable=True),
        sa.Column("shadow_version_id", sa.String(128), nullable=False),
        sa.Column("active_expected_return", sa.Float(), nullable=True),
        sa.Column("active_signal_confidence", sa.Float(), nullable=True),
        sa.Column("active_vol_forecast", sa.Float(), nullable=True),
        sa.Column("shadow_expected_return", sa.Float(), nullable=False),
        sa.Column("shadow_signal_confidence", sa.Float(), nullable=False),
        sa.Column("shadow_vol_forecast", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shadow_predictions"),
    )
    op.create_index(
        "ix_shadow_predictions_symbol_horizon_asof",
        "shadow_predictions",
        ["symbol", "horizon", "asof"],
    )


def downgrade() -> None:
    op.drop_index("ix_shadow_predictions_symbol_horizon_asof", table_name="shadow_predictions")
    op.drop_table("shadow_predictions")
