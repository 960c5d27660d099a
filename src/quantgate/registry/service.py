"""The model registry: immutable versions, per (symbol, horizon) aliases, audited transitions.

    registry = Registry(engine, home / "registry")
    registry.register_candidate(folder, "BTCUSDT", Horizon.H1, actor="ana")
    outcome = registry.promote("BTCUSDT", "1h", actor="ana")      # rule-checked
    registry.rollback("BTCUSDT", "1h", actor="ana", reason="drift")
    version, model = registry.load_alias("BTCUSDT", "1h", expected_contract_hash=...)

Versions are written once and never modified or deleted; only aliases move, and
every move writes a `registry_audit` row (who, when, why, from, to, forced).
Artifact files live in a content-addressed store and are verified on every load.
No transition touches live trading: the runtime notices alias moves by polling
`alias_snapshot()` (see `registry.runtime.ActiveModels`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantgate.config import Settings
from quantgate.core.enums import Horizon
from quantgate.ml.export.loader import ArtifactIntegrityError, OnnxMultiHorizonModel
from quantgate.ml.export.metadata import ArtifactMetadata
from quantgate.ml.export.naming import METADATA_FILE
from quantgate.registry.errors import (
    MissingEvaluationError,
    RegistryUsageError,
    UnknownVersionError,
)
from quantgate.registry.evaluation import find_evaluation, has_rule_metric
from quantgate.registry.rules import PromotionReport, PromotionRules
from quantgate.registry.store import ArtifactStore
from quantgate.storage.models.registry import ModelAliasRow, ModelVersionRow, RegistryAuditRow

ACTIVE = "active"
CANDIDATE = "candidate"
SHADOW = "shadow"
ALIASES = (ACTIVE, CANDIDATE, SHADOW)


def horizon_value(horizon: Horizon | str) -> str:
    try:
        return Horizon(horizon).value
    except ValueError:
        raise RegistryUsageError(
            f"unknown horizon {horizon!r}",
            field="--horizon",
            fix=f"use one of {', '.join(h.value for h in Horizon)}",
        ) from None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    version_id: str
    symbol: str
    horizon: str
    artifact_digest: str
    files: dict[str, str]
    metadata: dict[str, Any]
    contract_hash: str
    evaluation: dict[str, Any]
    source_run_id: str | None
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: ModelVersionRow) -> ModelVersion:
        return cls(
            version_id=row.version_id,
            symbol=row.symbol,
            horizon=row.horizon,
            artifact_digest=row.artifact_digest,
            files=dict(row.files),
            metadata=dict(row.model_metadata),
            contract_hash=row.contract_hash,
            evaluation=dict(row.evaluation),
            source_run_id=row.source_run_id,
            created_at=row.created_at,
            created_by=row.created_by,
        )

    def to_dict(self, *, with_metadata: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version_id": self.version_id,
            "symbol": self.symbol,
            "horizon": self.horizon,
            "artifact_digest": self.artifact_digest,
            "files": self.files,
            "contract_hash": self.contract_hash,
            "evaluation": self.evaluation,
            "source_run_id": self.source_run_id,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }
        if with_metadata:
            out["metadata"] = self.metadata
        return out


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of one transition request; `changed` is False when nothing moved."""

    action: str
    symbol: str
    horizon: str
    alias: str
    from_version: str | None
    to_version: str | None
    changed: bool
    forced: bool = False
    report: PromotionReport | None = None
    created: bool | None = None  # register-candidate: was a new version written
    audit_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.report is not None and not self.report.passed and not self.forced

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "symbol": self.symbol,
            "horizon": self.horizon,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "changed": self.changed,
            "forced": self.forced,
            "refused": self.refused,
            "audit_id": self.audit_id,
        }
        if self.report is not None:
            out["rules"] = self.report.to_dict()
        if self.created is not None:
            out["created"] = self.created
        return out


@dataclass(frozen=True, slots=True)
class AliasState:
    symbol: str
    horizon: str
    alias: str
    version_id: str
    generation: int
    updated_at: datetime
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "horizon": self.horizon,
            "alias": self.alias,
            "version_id": self.version_id,
            "generation": self.generation,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


def read_artifact_metadata(folder: Path) -> ArtifactMetadata:
    path = folder / METADATA_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise ArtifactIntegrityError(f"no {METADATA_FILE} at {path.parent}", source=str(path))
    try:
        return ArtifactMetadata.read(path)
    except ValidationError as error:
        raise ArtifactIntegrityError(
            f"{METADATA_FILE} is not a valid artifact description "
            f"({error.error_count()} problems, first: {error.errors()[0]['msg']})",
            source=str(path),
        ) from None


def _require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise RegistryUsageError(
            f"{what} needs a reason", field="--reason", fix="pass --reason 'why this is done'"
        )
    return reason.strip()


class Registry:
    def __init__(
        self,
        engine: Engine,
        root: Path,
        *,
        rules: PromotionRules | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.store = ArtifactStore(root)
        self.rules = rules or PromotionRules()
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(
        cls, engine: Engine, settings: Settings, *, rules: PromotionRules | None = None
    ) -> Registry:
        """The registry under the data home, with the [registry.promotion] rules of settings."""
        if rules is None:
            rules = PromotionRules.from_mapping(settings.registry.get("promotion", {}))
        return cls(engine, settings.resolved_home / "registry", rules=rules)

    # ---------------------------------------------------------------- versions

    def register(
        self,
        artifact: Path,
        symbol: str,
        horizon: Horizon | str,
        *,
        actor: str,
        evaluation: Mapping[str, Any] | None = None,
        source_run_id: str | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Store the artifact's files and record an immutable version; (version, created).

        The same artifact for the same (symbol, horizon) returns the existing version
        unchanged (its evaluation and provenance are never rewritten)."""
        h = horizon_value(horizon)
        folder = Path(artifact)
        folder = folder if folder.is_dir() else folder.parent
        metadata = read_artifact_metadata(folder)
        if Horizon(h) not in metadata.horizons:
            raise RegistryUsageError(
                f"artifact {folder} predicts {[x.value for x in metadata.horizons]}, not {h}",
                field="--horizon",
            )
        record = dict(evaluation) if evaluation is not None else None
        if record is None:
            record = find_evaluation(metadata.metrics, symbol, h)
        if record is None or not has_rule_metric(record):
            raise MissingEvaluationError(
                f"no out-of-sample evaluation record for {symbol} {h}: neither a training run "
                "nor the artifact's metadata metrics hold net Sharpe, max drawdown, deflated "
                "Sharpe or PBO for it",
                source=str(folder),
                fix="evaluate the model (quantgate ml evaluate) and register from that run",
            )
        files: dict[str, str] = {}
        for entry in metadata.files:
            files[entry.file] = self.store.put_file(folder / entry.file, expected=entry.sha256)
        digest = self.store.put_file(folder / METADATA_FILE)
        files[METADATA_FILE] = digest
        with Session(self.engine) as session:
            existing = self._by_digest(session, symbol, h, digest)
            if existing is not None:
                return ModelVersion.from_row(existing), False
        row = ModelVersionRow(
            version_id=f"{symbol}-{h}-{digest[:12]}",
            symbol=symbol,
            horizon=h,
            artifact_digest=digest,
            files=files,
            model_metadata=metadata.model_dump(mode="json"),
            contract_hash=metadata.contract_hash,
            evaluation=_jsonable(record),
            source_run_id=source_run_id,
            created_at=self._clock(),
            created_by=actor,
        )
        return self._insert_version(row)

    def _insert_version(self, row: ModelVersionRow) -> tuple[ModelVersion, bool]:
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                version = ModelVersion.from_row(row)
            return version, True
        except IntegrityError:  # registered concurrently: the first one wins
            with Session(self.engine) as session:
                existing = self._by_digest(session, row.symbol, row.horizon, row.artifact_digest)
                if existing is None:
                    raise
                return ModelVersion.from_row(existing), False

    @staticmethod
    def _by_digest(
        session: Session, symbol: str, horizon: str, digest: str
    ) -> ModelVersionRow | None:
        return session.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.symbol == symbol,
                ModelVersionRow.horizon == horizon,
                ModelVersionRow.artifact_digest == digest,
            )
        ).first()

    def version(self, version_id: str) -> ModelVersion:
        with Session(self.engine) as session:
            row = session.get(ModelVersionRow, version_id)
            if row is None:
                raise UnknownVersionError(
                    f"no model version {version_id!r}", fix="see quantgate registry list"
                )
            return ModelVersion.from_row(row)

    def versions(self, symbol: str | None = None, horizon: str | None = None) -> list[ModelVersion]:
        query = select(ModelVersionRow).order_by(
            ModelVersionRow.symbol, ModelVersionRow.horizon, ModelVersionRow.created_at
        )
        if symbol is not None:
            query = query.where(ModelVersionRow.symbol == symbol)
        if horizon is not None:
            query = query.where(ModelVersionRow.horizon == horizon_value(horizon))
        with Session(self.engine) as session:
            return [ModelVersion.from_row(row) for row in session.scalars(query)]

    # ---------------------------------------------------------------- aliases

    def aliases(self, symbol: str | None = None, horizon: str | None = None) -> list[AliasState]:
        query = select(ModelAliasRow).order_by(
            ModelAliasRow.symbol, ModelAliasRow.horizon, ModelAliasRow.alias
        )
        if symbol is not None:
            query = query.where(ModelAliasRow.symbol == symbol)
        if horizon is not None:
            query = query.where(ModelAliasRow.horizon == horizon_value(horizon))
        with Session(self.engine) as session:
            return [
                AliasState(
                    row.symbol,
                    row.horizon,
                    row.alias,
                    row.version_id,
                    row.generation,
                    row.updated_at,
                    row.updated_by,
                )
                for row in session.scalars(query)
            ]

    def alias_snapshot(self, alias: str = ACTIVE) -> dict[tuple[str, str], tuple[str, int]]:
        """(symbol, horizon) → (version id, generation) for one alias: one cheap query to poll."""
        query = select(
            ModelAliasRow.symbol,
            ModelAliasRow.horizon,
            ModelAliasRow.version_id,
            ModelAliasRow.generation,
        ).where(ModelAliasRow.alias == alias)
        with Session(self.engine) as session:
            return {(s, h): (v, g) for s, h, v, g in session.execute(query)}

    def resolve(
        self, symbol: str, horizon: Horizon | str, alias: str = ACTIVE
    ) -> ModelVersion | None:
        h = horizon_value(horizon)
        with Session(self.engine) as session:
            row = session.get(ModelAliasRow, (symbol, h, alias))
            if row is None:
                return None
            version = session.get(ModelVersionRow, row.version_id)
            return None if version is None else ModelVersion.from_row(version)

    # ---------------------------------------------------------------- transitions

    def register_candidate(
        self,
        artifact: Path,
        symbol: str,
        horizon: Horizon | str,
        *,
        actor: str,
        reason: str | None = None,
        evaluation: Mapping[str, Any] | None = None,
        source_run_id: str | None = None,
    ) -> Transition:
        version, created = self.register(
            artifact,
            symbol,
            horizon,
            actor=actor,
            evaluation=evaluation,
            source_run_id=source_run_id,
        )
        with Session(self.engine) as session, session.begin():
            transition = self._move(
                session,
                "register-candidate",
                version.symbol,
                version.horizon,
                CANDIDATE,
                version.version_id,
                actor=actor,
                reason=reason,
                forced=False,
                detail={"created": created, "source_run_id": version.source_run_id},
            )
        return _with(transition, created=created)

    def promote(
        self,
        symbol: str,
        horizon: Horizon | str,
        *,
        actor: str,
        reason: str | None = None,
        force: bool = False,
        rules: PromotionRules | None = None,
    ) -> Transition:
        """Candidate → active when every promotion rule passes (or with force and a reason)."""
        h = horizon_value(horizon)
        if force:
            reason = _require_reason(reason, "a forced promotion")
        rules = rules or self.rules
        with Session(self.engine) as session, session.begin():
            candidate = self._alias_row(session, symbol, h, CANDIDATE)
            if candidate is None:
                raise RegistryUsageError(
                    f"{symbol} {h} has no candidate to promote",
                    fix="register one with quantgate registry register-candidate",
                )
            version = session.get(ModelVersionRow, candidate.version_id)
            assert version is not None  # foreign key
            report = rules.check(version.evaluation)
            if not report.passed and not force:
                current = self._alias_row(session, symbol, h, ACTIVE)
                return Transition(
                    "promote",
                    symbol,
                    h,
                    ACTIVE,
                    current.version_id if current else None,
                    version.version_id,
                    changed=False,
                    report=report,
                )
            detail = {"rules": report.to_dict(), "rules_config_hash": rules.config_hash}
            transition = self._move(
                session,
                "promote",
                symbol,
                h,
                ACTIVE,
                version.version_id,
                actor=actor,
                reason=reason,
                forced=force,
                detail=detail,
                always=True,
            )
            session.delete(candidate)  # the candidate has been promoted
        return _with(transition, report=report)

    def activate(
        self,
        version_id: str,
        *,
        actor: str,
        reason: str | None = None,
        force: bool = False,
        rules: PromotionRules | None = None,
    ) -> Transition:
        """Make `version_id` active for its (symbol, horizon), after the same rule check."""
        if force:
            reason = _require_reason(reason, "a forced activation")
        rules = rules or self.rules
        version = self.version(version_id)
        report = rules.check(version.evaluation)
        with Session(self.engine) as session, session.begin():
            if not report.passed and not force:
                current = self._alias_row(session, version.symbol, version.horizon, ACTIVE)
                return Transition(
                    "activate",
                    version.symbol,
                    version.horizon,
                    ACTIVE,
                    current.version_id if current else None,
                    version_id,
                    changed=False,
                    report=report,
                )
            transition = self._move(
                session,
                "activate",
                version.symbol,
                version.horizon,
                ACTIVE,
                version_id,
                actor=actor,
                reason=reason,
                forced=force,
                detail={"rules": report.to_dict(), "rules_config_hash": rules.config_hash},
            )
        return _with(transition, report=report)

    def rollback(
        self, symbol: str, horizon: Horizon | str, *, actor: str, reason: str | None
    ) -> Transition:
        """Active → the version that was active before it (repeatable: walks back the history)."""
        h = horizon_value(horizon)
        reason = _require_reason(reason, "a rollback")
        with Session(self.engine) as session, session.begin():
            current = self._alias_row(session, symbol, h, ACTIVE)
            if current is None:
                raise RegistryUsageError(f"{symbol} {h} has no active model to roll back")
            stack = self._active_history(session, symbol, h)
            if len(stack) < 2 or stack[-1] != current.version_id:
                raise RegistryUsageError(
                    f"{symbol} {h} has no previous active model to roll back to "
                    f"(active: {current.version_id})",
                    fix="activate a specific version with quantgate registry activate",
                )
            transition = self._move(
                session,
                "rollback",
                symbol,
                h,
                ACTIVE,
                stack[-2],
                actor=actor,
                reason=reason,
                forced=False,
                detail={},
            )
        return transition

    def set_shadow(self, version_id: str, *, actor: str, reason: str | None = None) -> Transition:
        """Point the `shadow` alias (scored alongside active, never traded) at a version."""
        version = self.version(version_id)
        with Session(self.engine) as session, session.begin():
            return self._move(
                session,
                "set-shadow",
                version.symbol,
                version.horizon,
                SHADOW,
                version_id,
                actor=actor,
                reason=reason,
                forced=False,
                detail={},
            )

    def audit_trail(
        self, symbol: str | None = None, horizon: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(RegistryAuditRow).order_by(RegistryAuditRow.id)
        if symbol is not None:
            query = query.where(RegistryAuditRow.symbol == symbol)
        if horizon is not None:
            query = query.where(RegistryAuditRow.horizon == horizon_value(horizon))
        with Session(self.engine) as session:
            return [
                {
                    "id": row.id,
                    "at": row.at.isoformat(),
                    "actor": row.actor,
                    "action": row.action,
                    "symbol": row.symbol,
                    "horizon": row.horizon,
                    "alias": row.alias,
                    "from_version": row.from_version,
                    "to_version": row.to_version,
                    "reason": row.reason,
                    "forced": row.forced,
                    "detail": row.detail,
                }
                for row in session.scalars(query)
            ]

    def record_audit(
        self,
        action: str,
        version: ModelVersion,
        *,
        actor: str,
        reason: str | None,
        detail: dict[str, Any],
    ) -> None:
        """An audit row that moves no alias (e.g. a bundle import)."""
        with Session(self.engine) as session, session.begin():
            session.add(
                RegistryAuditRow(
                    at=self._clock(),
                    actor=actor,
                    action=action,
                    symbol=version.symbol,
                    horizon=version.horizon,
                    alias="-",
                    from_version=None,
                    to_version=version.version_id,
                    reason=reason,
                    forced=False,
                    detail=_jsonable(detail),
                )
            )

    # ---------------------------------------------------------------- loading

    def load(
        self, version: ModelVersion | str, *, expected_contract_hash: str | None = None
    ) -> OnnxMultiHorizonModel:
        """Verify every object of the version against its sha256, then open it in ONNX Runtime."""
        if isinstance(version, str):
            version = self.version(version)
        with tempfile.TemporaryDirectory(prefix="qg-model-") as scratch:
            folder = Path(scratch)
            for name, digest in version.files.items():
                (folder / name).write_bytes(self.store.read(digest, name=name))
            # The loader reads everything into memory (sessions from bytes), so the
            # scratch folder can go when it returns.
            return OnnxMultiHorizonModel(folder, expected_contract_hash=expected_contract_hash)

    def load_alias(
        self,
        symbol: str,
        horizon: Horizon | str,
        alias: str = ACTIVE,
        *,
        expected_contract_hash: str | None = None,
    ) -> tuple[ModelVersion, OnnxMultiHorizonModel] | None:
        version = self.resolve(symbol, horizon, alias)
        if version is None:
            return None
        return version, self.load(version, expected_contract_hash=expected_contract_hash)

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _alias_row(session: Session, symbol: str, horizon: str, alias: str) -> ModelAliasRow | None:
        return session.scalars(
            select(ModelAliasRow)
            .where(
                ModelAliasRow.symbol == symbol,
                ModelAliasRow.horizon == horizon,
                ModelAliasRow.alias == alias,
            )
            .with_for_update()
        ).first()

    @staticmethod
    def _active_history(session: Session, symbol: str, horizon: str) -> list[str]:
        """Replay the audit trail of `active`: moves push, rollbacks pop."""
        rows = session.scalars(
            select(RegistryAuditRow)
            .where(
                RegistryAuditRow.symbol == symbol,
                RegistryAuditRow.horizon == horizon,
                RegistryAuditRow.alias == ACTIVE,
            )
            .order_by(RegistryAuditRow.id)
        )
        stack: list[str] = []
        for row in rows:
            if row.action == "rollback":
                if stack:
                    stack.pop()
                if row.to_version and (not stack or stack[-1] != row.to_version):
                    stack.append(row.to_version)
            elif row.to_version:
                stack.append(row.to_version)
        return stack

    def _move(
        self,
        session: Session,
        action: str,
        symbol: str,
        horizon: str,
        alias: str,
        to_version: str,
        *,
        actor: str,
        reason: str | None,
        forced: bool,
        detail: dict[str, Any],
        always: bool = False,
    ) -> Transition:
        row = self._alias_row(session, symbol, horizon, alias)
        now = self._clock()
        from_version = row.version_id if row is not None else None
        if from_version == to_version and not always:
            return Transition(action, symbol, horizon, alias, from_version, to_version, False)
        if row is None:
            session.add(
                ModelAliasRow(
                    symbol=symbol,
                    horizon=horizon,
                    alias=alias,
                    version_id=to_version,
                    generation=1,
                    updated_at=now,
                    updated_by=actor,
                )
            )
        else:
            row.version_id = to_version
            row.generation = row.generation + 1
            row.updated_at = now
            row.updated_by = actor
        audit = RegistryAuditRow(
            at=now,
            actor=actor,
            action=action,
            symbol=symbol,
            horizon=horizon,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            reason=reason,
            forced=forced,
            detail=_jsonable(detail),
        )
        session.add(audit)
        session.flush()
        return Transition(
            action,
            symbol,
            horizon,
            alias,
            from_version,
            to_version,
            True,
            forced=forced,
            audit_id=audit.id,
            detail=detail,
        )


def _with(transition: Transition, **changes: Any) -> Transition:
    return replace(transition, **changes)


def _jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become None, unknown objects their str()."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        number = float(value)  # NumPy scalars
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None
