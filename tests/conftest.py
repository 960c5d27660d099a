"""Shared fixtures: a database URL per backend, a clean data home, the real data folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import create_engine, make_url, text

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES_URL_ENV = "QG_TEST_DATABASE_URL"


def _postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


def skip_or_fail_without_postgres() -> str:
    url = _postgres_base_url()
    if url is None:
        if os.environ.get("QG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{POSTGRES_URL_ENV} is unset but QG_REQUIRE_POSTGRES=1")
        pytest.skip(f"{POSTGRES_URL_ENV} is unset")
    return url


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A test that configures logging must not leave later tests writing to a closed stream."""
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = make_url(skip_or_fail_without_postgres()).set(drivername="postgresql+psycopg")
    name = f"{base.database}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'quantgate.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def qg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data home with every QG_* variable cleared."""
    for name in list(os.environ):
        if name.startswith("QG_") and name not in {POSTGRES_URL_ENV, "QG_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("QG_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL-backed tests ran, so CI output proves they were not skipped."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in counts:
        for report in terminalreporter.stats.get(outcome, []):
            if "postgres" not in getattr(report, "nodeid", ""):
                continue
            # A pass is reported once per phase; count it on the test call only.
            if outcome != "passed" or getattr(report, "when", "") == "call":
                counts[outcome] += 1
    terminalreporter.write_line(
        "postgresql tests: {passed} passed, {failed} failed, {skipped} skipped".format(**counts)
    )
