"""Model-layer tables: recorded training, evaluation and tuning runs (revision 0004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quantgate.storage.models.base import Base


class TrainingRun(Base):
    """One train / eval / tune-trial run, with everything `ml validate-leakage` re-checks.

    ``windows`` holds one entry per (horizon, fold) with the fold's windows and the
    decision times of its training and test rows (µs since the epoch), so label
    overlap can be recomputed without the data.
    """

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # train | eval | tune-trial
    estimator: Mapped[str] = mapped_column(String(32))
    symbols: Mapped[dict[str, Any]]
    horizons: Mapped[dict[str, Any]]
    windows: Mapped[dict[str, Any]]
    contract_hash: Mapped[str] = mapped_column(String(64))
    evaluated_contract_hash: Mapped[str] = mapped_column(String(64))
    data_manifest_hash: Mapped[str] = mapped_column(String(64))
    git_sha: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int]
    n_trials: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    artifact_path: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_training_runs_created", "created_at"),)
