"""Programmatic Alembic: upgrade, downgrade and current revision for any engine.

Our revision lives in `quantgate_schema_version`, not Alembic's default
`alembic_version`: Optuna keeps its own studies' schema revision in
`alembic_version` of the same database (`ml tune` stores studies there), and the
two would read each other's revision. A database migrated before the rename has
its revision moved over on the next upgrade.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "quantgate_schema_version"
_LEGACY_VERSION_TABLE = "alembic_version"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _adopt_legacy_version(connection: Connection) -> None:
    """Move our revision out of `alembic_version` (where Optuna expects its own)."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or _LEGACY_VERSION_TABLE not in tables:
        return
    ours = {
        script.revision
        for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    }
    rows = connection.execute(text(f"SELECT version_num FROM {_LEGACY_VERSION_TABLE}")).scalars()
    found = [row for row in rows if row in ours]
    if not found:
        return
    connection.execute(
        text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    for revision in found:
        connection.execute(
            text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:revision)"),
            {"revision": revision},
        )
        connection.execute(
            text(f"DELETE FROM {_LEGACY_VERSION_TABLE} WHERE version_num = :revision"),
            {"revision": revision},
        )
    if connection.execute(text(f"SELECT COUNT(*) FROM {_LEGACY_VERSION_TABLE}")).scalar() == 0:
        connection.execute(text(f"DROP TABLE {_LEGACY_VERSION_TABLE}"))


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    config = _alembic_config()
    with engine.begin() as connection:
        _adopt_legacy_version(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine)


def downgrade(engine: Engine, revision: str) -> str | None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()
