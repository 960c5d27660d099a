"""SQL storage (SQLAlchemy 2 + Alembic) and the Parquet lake."""

from quantgate.storage.db import create_db_engine, session_factory
from quantgate.storage.lake import Lake
from quantgate.storage.migrate import current_revision, downgrade, head_revision, upgrade

__all__ = [
    "Lake",
    "create_db_engine",
    "current_revision",
    "downgrade",
    "head_revision",
    "session_factory",
    "upgrade",
]
