"""The `quantgate` command from a shell: verb groups and database migration."""

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

VERB_GROUPS = ["data", "features", "ml", "registry", "backtest", "serve", "db", "demo"]
QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
    )


def test_help_lists_every_verb_group(qg_home: Path) -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for group in VERB_GROUPS:
        assert f" {group} " in result.stdout, group


def test_db_upgrade_creates_sqlite_in_empty_home(qg_home: Path) -> None:
    assert not qg_home.exists()
    result = run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    database = qg_home / "quantgate.db"
    assert database.is_file()
    tables = inspect(create_engine(f"sqlite:///{database}")).get_table_names()
    assert "command_runs" in tables and "quantgate_schema_version" in tables
    assert "alembic_version" not in tables  # Optuna's name: studies share this database
    current = json.loads(run("db", "current", "--json").stdout)
    assert current["current"] == current["head"] and current["up_to_date"] is True


def test_db_upgrade_migrates_postgres_when_configured(qg_home: Path, postgres_url: str) -> None:
    result = run("db", "upgrade", env={"QG_DATABASE_URL": postgres_url})
    assert result.returncode == 0, result.stderr
    assert not (qg_home / "quantgate.db").exists()
    tables = inspect(
        create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    )
    assert "command_runs" in tables.get_table_names()
    current = json.loads(
        run("db", "current", "--json", env={"QG_DATABASE_URL": postgres_url}).stdout
    )
    assert current["database_url"].startswith("postgresql+psycopg://")
    assert current["up_to_date"] is True


def test_configuration_error_exits_2_and_names_field(qg_home: Path) -> None:
    result = run("db", "current", env={"QG_LOG_LEVEL": "LOUD"})
    assert result.returncode == 2
    assert "settings.log_level" in result.stderr and "Fix:" in result.stderr


def test_bad_database_url_names_the_variable(qg_home: Path) -> None:
    result = run("db", "current", env={"QG_DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert "QG_DATABASE_URL" in result.stderr
