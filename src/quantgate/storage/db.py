"""Engine creation: SQLite (WAL, synchronous=FULL, foreign keys) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from quantgate.core.errors import ConfigurationError

_SUPPORTED = ("sqlite", "postgresql")


def normalise_url(url: str) -> URL:
    """Parse `url` and pin PostgreSQL to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except Exception as error:
        raise ConfigurationError(
            f"cannot parse database URL {url!r} ({error})",
            field="QG_DATABASE_URL",
            fix="use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigurationError(
            f"unsupported database backend {backend!r}",
            field="QG_DATABASE_URL",
            fix="use a sqlite:/// or postgresql:// URL",
        )
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
