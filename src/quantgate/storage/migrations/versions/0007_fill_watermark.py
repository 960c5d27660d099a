"""fill watermark: the scope's fills by id, read at every paper/live checkpoint

Revision ID: 0007_fill_watermark
Revises: 0006_shadow
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007_fill_watermark"
down_revision = "0006_shadow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A checkpoint reads the scope's highest fill id after every paper/live event, and a
    # restart the fills after it: without the index both scan every scope's fills.
    op.create_index("ix_fills_scope_id", "fills", ["scope", "id"])


def downgrade() -> None:
    op.drop_index("ix_fills_scope_id", table_name="fills")
