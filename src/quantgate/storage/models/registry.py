"""Model registry tables: immutable versions, movable aliases, the audit trail (revision 0005).

`model_versions` rows are written once and never updated or deleted; an alias
is the only thing that moves, and every move is a `registry_audit` row. Each
alias row carries a `generation` that increases on every move, so a runtime
can poll one cheap query to learn that something changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from quantgate.storage.models.base import Base


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    version_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    horizon: Mapped[str] = mapped_column(String(8))
    # sha256 of the artifact's metadata.json, which lists every graph file's sha256.
    artifact_digest: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]]  # artifact file name -> sha256 (object name in the store)
    model_metadata: Mapped[dict[str, Any]] = mapped_column("metadata")
    contract_hash: Mapped[str] = mapped_column(String(64))
    evaluation: Mapped[dict[str, Any]]
    source_run_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        UniqueConstraint(
            "symbol", "horizon", "artifact_digest", name="uq_model_versions_symbol_horizon_digest"
        ),
        Index("ix_model_versions_symbol_horizon", "symbol", "horizon", "created_at"),
    )


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    horizon: Mapped[str] = mapped_column(String(8), primary_key=True)
    alias: Mapped[str] = mapped_column(String(16), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.version_id"))
    generation: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class RegistryAuditRow(Base):
    __tablename__ = "registry_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64))
    horizon: Mapped[str] = mapped_column(String(8))
    alias: Mapped[str] = mapped_column(String(16))
    from_version: Mapped[str | None] = mapped_column(String(128))
    to_version: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    forced: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_registry_audit_symbol_horizon", "symbol", "horizon", "id"),)


class ShadowPredictionRow(Base):
    """One request scored by both the active and the shadow version (revision 0006).

    The shadow's numbers are only ever stored here (and in the JSONL log), never
    returned or traded; `registry shadow-report` compares the two sides.
    """

    __tablename__ = "shadow_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scored_at: Mapped[datetime]
    symbol: Mapped[str] = mapped_column(String(64))
    horizon: Mapped[str] = mapped_column(String(8))
    asof: Mapped[datetime]
    active_version_id: Mapped[str | None] = mapped_column(String(128))
    shadow_version_id: Mapped[str] = mapped_column(String(128))
    active_expected_return: Mapped[float | None] = mapped_column(Float)
    active_signal_confidence: Mapped[float | None] = mapped_column(Float)
    active_vol_forecast: Mapped[float | None] = mapped_column(Float)
    shadow_expected_return: Mapped[float] = mapped_column(Float)
    shadow_signal_confidence: Mapped[float] = mapped_column(Float)
    shadow_vol_forecast: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_shadow_predictions_symbol_horizon_asof", "symbol", "horizon", "asof"),
    )
