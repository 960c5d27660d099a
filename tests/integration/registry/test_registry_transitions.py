"""Register → promote → activate → rollback on real SQLite and PostgreSQL with real ONNX files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quantgate.ml.estimators.lgbm import LightGBMEstimator
from quantgate.ml.export.loader import ArtifactIntegrityError, ContractMismatchError
from quantgate.registry import (
    MissingEvaluationError,
    PromotionRules,
    Registry,
    RegistryUsageError,
)
from quantgate.registry.runtime import ActiveModels
from quantgate.storage.models import ModelVersionRow

SYMBOL = "BTCUSDT"
CONTRACT_HASH = "c0ffee" * 10 + "cafe"  # as in conftest.provenance
PASSING = {"net_sharpe": 2.1, "max_drawdown": 0.12, "deflated_sharpe": 0.97, "pbo": 0.08}
FAILING = {"net_sharpe": 1.2, "max_drawdown": 0.31, "deflated_sharpe": 0.97, "pbo": 0.35}
MakeArtifact = Callable[..., Path]


def test_full_lifecycle_with_audit(registry: Registry, make_artifact: MakeArtifact) -> None:
    first = registry.register_candidate(
        make_artifact("v1", PASSING), SYMBOL, "1h", actor="ana", reason="weekly retrain"
    )
    assert first.changed and first.created and first.alias == "candidate"
    v1 = first.to_version
    assert v1 is not None and v1.startswith("BTCUSDT-1h-")

    promoted = registry.promote(SYMBOL, "1h", actor="ana", reason="passes")
    assert promoted.changed and not promoted.refused and promoted.report is not None
    assert [c.verdict for c in promoted.report.checks] == ["pass"] * 4
    assert registry.resolve(SYMBOL, "1h", "active").version_id == v1  # type: ignore[union-attr]
    assert registry.resolve(SYMBOL, "1h", "candidate") is None

    second = registry.register_candidate(
        make_artifact("v2", {**PASSING, "net_sharpe": 2.5}), SYMBOL, "1h", actor="bo"
    )
    v2 = second.to_version
    registry.promote(SYMBOL, "1h", actor="bo")
    assert registry.resolve(SYMBOL, "1h").version_id == v2  # type: ignore[union-attr]

    back = registry.rollback(SYMBOL, "1h", actor="cy", reason="live slippage too high")
    assert (back.from_version, back.to_version) == (v2, v1)
    assert registry.resolve(SYMBOL, "1h").version_id == v1  # type: ignore[union-attr]
    with pytest.raises(RegistryUsageError, match="no previous active"):
        registry.rollback(SYMBOL, "1h", actor="cy", reason="again")

    activated = registry.activate(v2, actor="dee", reason="fixed the venue config")  # type: ignore[arg-type]
    assert activated.changed and (activated.from_version, activated.to_version) == (v1, v2)
    # rollback walks back: v2 (activated) -> v1
    assert registry.rollback(SYMBOL, "1h", actor="dee", reason="r").to_version == v1

    trail = registry.audit_trail(SYMBOL, "1h")
    assert [(r["action"], r["alias"], r["from_version"], r["to_version"]) for r in trail] == [
        ("register-candidate", "candidate", None, v1),
        ("promote", "active", None, v1),
        ("register-candidate", "candidate", None, v2),
        ("promote", "active", v1, v2),
        ("rollback", "active", v2, v1),
        ("activate", "active", v1, v2),
        ("rollback", "active", v2, v1),
    ]
    assert trail[0]["actor"] == "ana" and trail[0]["reason"] == "weekly retrain"
    assert trail[4]["reason"] == "live slippage too high" and trail[4]["actor"] == "cy"
    assert all(not r["forced"] for r in trail) and all(r["at"] for r in trail)
    assert trail[1]["detail"]["rules"]["passed"] is True


def test_promotion_refused_reports_each_rule(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.register_candidate(make_artifact("bad", FAILING), SYMBOL, "4h", actor="ana")
    outcome = registry.promote(SYMBOL, "4h", actor="ana")
    assert outcome.refused and not outcome.changed
    assert outcome.report is not None
    verdicts = {c.rule: (c.value, c.verdict) for c in outcome.report.checks}
    assert verdicts == {
        "net_sharpe": (1.2, "fail"),
        "max_drawdown": (0.31, "fail"),
        "deflated_sharpe": (0.97, "pass"),
        "pbo": (0.35, "fail"),
    }
    assert registry.resolve(SYMBOL, "4h") is None
    assert registry.resolve(SYMBOL, "4h", "candidate") is not None
    assert [r["action"] for r in registry.audit_trail(SYMBOL, "4h")] == ["register-candidate"]
    # Config rules: looser thresholds pass the same record.
    loose = PromotionRules(min_net_sharpe=1.0, max_drawdown=0.4, max_pbo=0.5)
    assert registry.promote(SYMBOL, "4h", actor="ana", rules=loose).changed


def test_forced_promotion_needs_a_reason_and_is_recorded(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.register_candidate(make_artifact("bad", FAILING), SYMBOL, "1d", actor="ana")
    with pytest.raises(RegistryUsageError, match="needs a reason"):
        registry.promote(SYMBOL, "1d", actor="ana", force=True)
    with pytest.raises(RegistryUsageError, match="needs a reason"):
        registry.promote(SYMBOL, "1d", actor="ana", force=True, reason="  ")
    assert registry.resolve(SYMBOL, "1d") is None
    outcome = registry.promote(SYMBOL, "1d", actor="ana", force=True, reason="desk sign-off #42")
    assert outcome.changed and outcome.forced and not outcome.refused
    row = registry.audit_trail(SYMBOL, "1d")[-1]
    assert row["action"] == "promote" and row["forced"] is True
    assert row["reason"] == "desk sign-off #42"
    assert row["detail"]["rules"]["passed"] is False


def test_rollback_needs_a_reason(registry: Registry, make_artifact: MakeArtifact) -> None:
    with pytest.raises(RegistryUsageError, match="needs a reason"):
        registry.rollback(SYMBOL, "1h", actor="ana", reason=None)
    with pytest.raises(RegistryUsageError, match="no active model"):
        registry.rollback(SYMBOL, "1h", actor="ana", reason="x")


def test_register_requires_an_evaluation_record(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    folder = make_artifact("noeval", {"ic_1h": 0.04})
    with pytest.raises(MissingEvaluationError, match="no out-of-sample evaluation record"):
        registry.register_candidate(folder, SYMBOL, "1h", actor="ana")
    assert registry.versions() == []
    # An explicit record (e.g. from a training run) is accepted.
    moved = registry.register_candidate(folder, SYMBOL, "1h", actor="ana", evaluation=PASSING)
    assert registry.version(moved.to_version).evaluation == PASSING  # type: ignore[arg-type]


def test_versions_are_immutable(registry: Registry, make_artifact: MakeArtifact, engine) -> None:  # type: ignore[no-untyped-def]
    folder = make_artifact("v1", PASSING)
    first = registry.register_candidate(folder, SYMBOL, "1h", actor="ana", source_run_id="run-1")
    again = registry.register_candidate(
        folder,
        SYMBOL,
        "1h",
        actor="mallory",
        source_run_id="run-2",
        evaluation={**PASSING, "net_sharpe": 9.9},
    )
    assert again.to_version == first.to_version and again.created is False
    assert not again.changed  # candidate already points there: no new audit row
    version = registry.version(first.to_version)  # type: ignore[arg-type]
    assert version.evaluation == PASSING and version.source_run_id == "run-1"
    assert version.created_by == "ana"
    with Session(engine) as session:
        assert len(session.scalars(select(ModelVersionRow)).all()) == 1
    # Same artifact, other (symbol, horizon): its own version, same stored objects.
    other = registry.register_candidate(folder, "ETHUSDT", "1h", actor="ana")
    assert other.to_version != first.to_version
    assert registry.version(other.to_version).files == version.files  # type: ignore[arg-type]


def test_load_verifies_every_object(
    registry: Registry, make_artifact: MakeArtifact, fitted_estimator: LightGBMEstimator
) -> None:
    moved = registry.register_candidate(make_artifact("v1", PASSING), SYMBOL, "1h", actor="ana")
    version = registry.version(moved.to_version)  # type: ignore[arg-type]
    model = registry.load(version, expected_contract_hash=CONTRACT_HASH)
    rows = np.random.default_rng(0).standard_normal((5, model.n_features_in)).astype(np.float32)
    expected = fitted_estimator.predict(rows)
    got = model.predict(rows)
    for horizon in expected:
        np.testing.assert_allclose(
            got[horizon].expected_return, expected[horizon].expected_return, atol=1e-5
        )
    with pytest.raises(ContractMismatchError):
        registry.load(version, expected_contract_hash="f" * 64)

    digest = version.files["model.onnx"]
    target = registry.store.path(digest)
    target.chmod(0o644)
    payload = bytearray(target.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    target.write_bytes(bytes(payload))
    with pytest.raises(ArtifactIntegrityError) as caught:
        registry.load(version)
    message = str(caught.value)
    assert "model.onnx" in message and digest in message and str(target) in message


def test_tampered_artifact_is_refused_at_registration(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    folder = make_artifact("v1", PASSING)
    with (folder / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    expected = json.loads((folder / "metadata.json").read_text())["files"][0]["sha256"]
    with pytest.raises(ArtifactIntegrityError, match=expected):
        registry.register_candidate(folder, SYMBOL, "1h", actor="ana")


def test_active_models_follow_alias_moves(registry: Registry, make_artifact: MakeArtifact) -> None:
    models = ActiveModels(registry, expected_contract_hash=CONTRACT_HASH)
    assert models.refresh() == [] and models.get(SYMBOL, "1h") is None
    v1 = registry.register_candidate(make_artifact("v1", PASSING), SYMBOL, "1h", actor="a")
    registry.promote(SYMBOL, "1h", actor="a")
    changes = models.refresh()
    assert [(c.symbol, c.horizon, c.to_version) for c in changes] == [(SYMBOL, "1h", v1.to_version)]
    assert models.refresh() == []  # nothing moved
    v2 = registry.register_candidate(
        make_artifact("v2", {**PASSING, "pbo": 0.01}), SYMBOL, "1h", actor="a"
    )
    registry.promote(SYMBOL, "1h", actor="a")
    assert [c.to_version for c in models.refresh()] == [v2.to_version]
    entry = models.get(SYMBOL, "1h")
    assert entry is not None and entry.version.version_id == v2.to_version
    registry.rollback(SYMBOL, "1h", actor="a", reason="test")
    change = models.refresh()[0]
    assert (change.from_version, change.to_version, change.error) == (
        v2.to_version,
        v1.to_version,
        None,
    )


def test_all_verdicts_in_transition_json(registry: Registry, make_artifact: MakeArtifact) -> None:
    registry.register_candidate(make_artifact("bad", FAILING), SYMBOL, "7d", actor="a")
    payload = registry.promote(SYMBOL, "7d", actor="a").to_dict()
    json.dumps(payload)
    assert payload["refused"] is True
    assert {c["rule"]: c["verdict"] for c in payload["rules"]["checks"]}["pbo"] == "fail"
