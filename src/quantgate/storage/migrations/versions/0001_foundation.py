"""foundation: instruments, command runs, job checkpoints

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("asset_class", sa.String(32), nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("tick_size", sa.Numeric(38, 18), nullable=False),
        sa.Column("lot_size", sa.Numeric(38, 18), nullable=False),
        sa.Column("listing_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "venue", name="pk_instruments"),
    )
    op.create_table(
        "command_runs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("command", sa.String(128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_command_runs"),
    )
    op.create_index("ix_command_runs_command_started", "command_runs", ["command", "started_at"])
    op.create_table(
        "job_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(128), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_checkpoints"),
        sa.UniqueConstraint("job", "key", name="uq_job_checkpoints_job_key"),
    )


def downgrade() -> None:
    op.drop_table("job_checkpoints")
    op.drop_index("ix_command_runs_command_started", table_name="command_runs")
    op.drop_table("command_runs")
    op.drop_table("instruments")
