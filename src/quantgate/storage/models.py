"""SQLAlchemy models. Each issue that adds tables adds an Alembic revision for them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, Index, MetaData, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from quantgate.storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class InstrumentRow(Base):
    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    venue: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_class: Mapped[str] = mapped_column(String(32))
    bucket: Mapped[str] = mapped_column(String(32))
    tick_size: Mapped[Decimal] = mapped_column(Numeric(38, 18))
    lot_size: Mapped[Decimal] = mapped_column(Numeric(38, 18))
    listing_date: Mapped[date] = mapped_column(Date)


class CommandRun(Base):
    """One invocation of a quantgate command, with its run id and outcome."""

    __tablename__ = "command_runs"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    command: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_command_runs_command_started", "command", "started_at"),)


class JobCheckpoint(Base):
    """Progress of a long job, so a rerun resumes where the last one stopped."""

    __tablename__ = "job_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(256))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("job", "key", name="uq_job_checkpoints_job_key"),)


class DataSourceRow(Base):
    """A source that wrote into the lake, with the spec that rebuilds it for remediation."""

    __tablename__ = "data_sources"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SourceCoverageRow(Base):
    """The span a source claims for one symbol and dataset family: what the audit expects."""

    __tablename__ = "source_coverage"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    family: Mapped[str] = mapped_column(String(16), primary_key=True)  # "bars_1h" | "social"
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ConfirmedSourceGap(Base):
    """A gap the owning source was asked for again and had nothing for, with the evidence."""

    __tablename__ = "confirmed_source_gaps"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    family: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    gap_start: Mapped[datetime]
    gap_end: Mapped[datetime]  # exclusive
    evidence: Mapped[dict[str, Any]]
    confirmed_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint(
            "family", "source", "symbol", "gap_start", "gap_end", name="uq_confirmed_gap_range"
        ),
        Index("ix_confirmed_gaps_lookup", "family", "source", "symbol"),
    )


class AuditRun(Base):
    """One completeness audit, kept for the monitoring API."""

    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    symbols: Mapped[dict[str, Any]]
    history_window_complete: Mapped[bool]
    comment_ratio_ge_10x: Mapped[bool]
    passed: Mapped[bool]
    summary: Mapped[dict[str, Any]]
    report: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_audit_runs_created", "created_at"),)


class QualityRun(Base):
    """One data-quality gate run, kept for the monitoring API."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    passed: Mapped[bool]
    summary: Mapped[dict[str, Any]]
    report: Mapped[dict[str, Any]]
