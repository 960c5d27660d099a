"""ml: training_runs (train, eval and tune-trial runs with their windows and hashes)

Revision ID: 0004_ml
Revises: 0003_trading
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0004_ml"
down_revision = "0003_trading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("estimator", sa.String(32), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("horizons", sa.JSON(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("contract_hash", sa.String(64), nullable=False),
        sa.Column("evaluated_contract_hash", sa.String(64), nullable=False),
        sa.Column("data_manifest_hash", sa.String(64), nullable=False),
        sa.Column("git_sha", sa.String(64), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
    )
    op.create_index("ix_training_runs_created", "training_runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_training_runs_created", table_name="training_runs")
    op.drop_table("training_runs")
