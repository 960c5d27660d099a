"""Migrations up and down, and round-trips, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from quantgate.core import ProgrammerError
from quantgate.storage import create_db_engine, current_revision, downgrade, head_revision, upgrade
from quantgate.storage.models import CommandRun, InstrumentRow, JobCheckpoint

TABLES = {
    "instruments",
    "command_runs",
    "job_checkpoints",
    "data_sources",
    "source_coverage",
    "confirmed_source_gaps",
    "audit_runs",
    "quality_runs",
    "orders",
    "fills",
    "execution_trace",
    "risk_gate_decisions",
    "risk_state",
    "risk_state_events",
    "risk_reservations",
    "training_runs",
    "model_versions",
    "model_aliases",
    "registry_audit",
}


def test_upgrade_then_downgrade_to_base(database_url: str) -> None:
    engine = create_db_engine(database_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert upgrade(engine) == head_revision()  # idempotent
    assert downgrade(engine, "base") is None
    assert not TABLES & set(inspect(engine).get_table_names())
    assert upgrade(engine) == head_revision()
    engine.dispose()


def test_round_trip_keeps_decimals_and_utc(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    started = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with Session(engine) as session, session.begin():
        session.add(
            InstrumentRow(
                symbol="BTCUSDT",
                venue="binance",
                asset_class="crypto_spot",
                bucket="majors",
                tick_size=Decimal("0.01"),
                lot_size=Decimal("0.00001"),
                listing_date=date(2017, 8, 17),
            )
        )
        session.add(
            CommandRun(
                run_id="r1",
                command="data generate",
                started_at=started,
                status="succeeded",
                detail={"rows": 42, "symbols": ["BTCUSDT"]},
            )
        )
    with Session(engine) as session:
        instrument = session.scalars(select(InstrumentRow)).one()
        assert instrument.lot_size == Decimal("0.00001")
        run = session.get(CommandRun, "r1")
        assert run is not None
        assert run.started_at == started and run.started_at.tzinfo is UTC
        assert run.detail == {"rows": 42, "symbols": ["BTCUSDT"]}
    engine.dispose()


def test_unique_checkpoint_per_job_and_key(database_url: str) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(JobCheckpoint(job="ingest", key="BTCUSDT", state={"done": 1}, updated_at=now))
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(JobCheckpoint(job="ingest", key="BTCUSDT", state={}, updated_at=now))
    engine.dispose()


def test_naive_datetimes_are_refused(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    upgrade(engine)
    with pytest.raises(StatementError) as error, Session(engine) as session, session.begin():
        session.add(
            CommandRun(
                run_id="x", command="c", started_at=datetime(2024, 1, 1), status="s", detail={}
            )
        )
    assert isinstance(error.value.orig, ProgrammerError)
    assert "naive datetime" in str(error.value)
    engine.dispose()


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to add: every model change came with its revision."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from quantgate.storage.migrate import VERSION_TABLE
    from quantgate.storage.models import Base

    engine = create_db_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    engine.dispose()


def test_optuna_studies_share_the_project_database(database_url: str) -> None:
    """Optuna keeps its schema revision in `alembic_version`; ours must not be read as it."""
    import optuna

    engine = create_db_engine(database_url)
    upgrade(engine)
    storage = optuna.storages.RDBStorage(url=database_url)
    study = optuna.create_study(study_name="shared", storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert upgrade(engine) == head_revision()  # and ours is untouched by Optuna's tables
    assert len(optuna.load_study(study_name="shared", storage=database_url).trials) == 2
    engine.dispose()


def test_a_revision_in_the_legacy_table_is_adopted(database_url: str) -> None:
    from quantgate.storage.migrate import VERSION_TABLE

    engine = create_db_engine(database_url)
    upgrade(engine, "0005_registry")
    with engine.begin() as connection:  # how a database migrated before the rename looks
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        connection.execute(text("INSERT INTO alembic_version VALUES ('0005_registry')"))
    assert upgrade(engine) == head_revision()
    tables = inspect(engine).get_table_names()
    assert "alembic_version" not in tables and "shadow_predictions" in tables
    engine.dispose()
