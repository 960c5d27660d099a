"""registry: immutable model versions, per (symbol, horizon) aliases, the audit trail

Revision ID: 0005_registry
Revises: 0004_ml
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quantgate.storage.types import UTCDateTime

revision = "0005_registry"
down_revision = "0004_ml"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("version_id", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("artifact_digest", sa.String(64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("contract_hash", sa.String(64), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("source_run_id", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name="pk_model_versions"),
        sa.UniqueConstraint(
            "symbol", "horizon", "artifact_digest", name="uq_model_versions_symbol_horizon_digest"
        ),
    )
    op.create_index(
        "ix_model_versions_symbol_horizon", "model_versions", ["symbol", "horizon", "created_at"]
    )
    op.create_table(
        "model_aliases",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("alias", sa.String(16), nullable=False),
        sa.Column("version_id", sa.String(128), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "horizon", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.version_id"],
            name="fk_model_aliases_version_id_model_versions",
        ),
    )
    op.create_table(
        "registry_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("horizon", sa.String(8), nullable=False),
        sa.Column("alias", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(128), nullable=True),
        sa.Column("to_version", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_audit"),
    )
    op.create_index(
        "ix_registry_audit_symbol_horizon", "registry_audit", ["symbol", "horizon", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_registry_audit_symbol_horizon", table_name="registry_audit")
    op.drop_table("registry_audit")
    op.drop_table("model_aliases")
    op.drop_index("ix_model_versions_symbol_horizon", table_name="model_versions")
    op.drop_table("model_versions")
