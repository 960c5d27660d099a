"""data: sources, coverage, confirmed gaps, audit and quality runs

Revision ID: 0002_data
Revises: 0001_foundation
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0002_data"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_sources",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_data_sources"),
    )
    op.create_table(
        "source_coverage",
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "family", "symbol", name="pk_source_coverage"),
    )
    op.create_table(
        "confirmed_source_gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("gap_start", UTCDateTime(), nullable=False),
        sa.Column("gap_end", UTCDateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_confirmed_source_gaps"),
        sa.UniqueConstraint(
            "family", "source", "symbol", "gap_start", "gap_end", name="uq_confirmed_gap_range"
        ),
    )
    op.create_index(
        "ix_confirmed_gaps_lookup", "confirmed_source_gaps", ["family", "source", "symbol"]
    )
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("history_window_complete", sa.Boolean(), nullable=False),
        sa.Column("comment_ratio_ge_10x", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_runs"),
    )
    op.create_index("ix_audit_runs_created", "audit_runs", ["created_at"])
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quality_runs"),
    )


def downgrade() -> None:
    op.drop_table("quality_runs")
    op.drop_index("ix_audit_runs_created", table_name="audit_runs")
    op.drop_table("audit_runs")
    op.drop_index("ix_confirmed_gaps_lookup", table_name="confirmed_source_gaps")
    op.drop_table("confirmed_source_gaps")
    op.drop_table("source_coverage")
    op.drop_table("data_sources")
