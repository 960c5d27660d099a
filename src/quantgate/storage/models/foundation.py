"""Foundation tables: instruments, command runs, job checkpoints (revision 0001)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantgate.storage.models.base import Base


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
