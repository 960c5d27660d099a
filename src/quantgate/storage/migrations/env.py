"""Alembic environment: runs against the connection handed in by quantgate.storage.migrate."""

from __future__ import annotations

from alembic import context

from quantgate.storage.migrate import VERSION_TABLE
from quantgate.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
