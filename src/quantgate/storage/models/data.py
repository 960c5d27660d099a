"""Data-layer tables: sources, coverage, confirmed gaps, audit and quality runs (revision 0002)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantgate.storage.models.base import Base


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
