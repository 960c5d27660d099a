"""Inference bundles (round trip, tampering) and the `quantgate registry` CLI via subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from quantgate.registry import Registry
from quantgate.registry.bundle import BundleIntegrityError, export_bundle, import_bundle
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.models.ml import TrainingRun

PASSING = {"net_sharpe": 2.1, "max_drawdown": 0.12, "deflated_sharpe": 0.97, "pbo": 0.08}
FAILING = {"net_sharpe": 1.2, "max_drawdown": 0.31, "deflated_sharpe": 0.97, "pbo": 0.35}
SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "rollback_liquid_model.py"
MakeArtifact = Callable[..., Path]


def test_bundle_round_trip(
    registry: Registry, make_artifact: MakeArtifact, tmp_path: Path, database_url: str
) -> None:
    v1 = registry.register_candidate(make_artifact("v1", PASSING), "BTCUSDT", "1h", actor="a")
    v2 = registry.register_candidate(make_artifact("v2", PASSING), "ETHUSDT", "4h", actor="a")
    versions = [registry.version(v1.to_version), registry.version(v2.to_version)]  # type: ignore[arg-type]
    out = tmp_path / "bundle.tar.gz"
    summary = export_bundle(registry, versions, out)
    assert summary["versions"] == [v.version_id for v in versions]

    # A second, empty registry (own store, own database) imports it.
    other_engine = create_db_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other_engine)
    other = Registry(other_engine, tmp_path / "other-home" / "registry")
    result = import_bundle(other, out, actor="ops", reason="deploy")
    assert [item["created"] for item in result["versions"]] == [True, True]
    for version in versions:
        copy = other.version(version.version_id)
        assert copy.files == version.files and copy.evaluation == version.evaluation
        assert copy.created_at == version.created_at
        other.load(copy)  # verified objects, loadable
    assert [r["action"] for r in other.audit_trail()] == ["import", "import"]
    assert other.aliases() == []  # aliases never move on import
    again = import_bundle(other, out, actor="ops")
    assert [item["created"] for item in again["versions"]] == [False, False]
    other_engine.dispose()


def _rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes]) -> None:
    with tarfile.open(source, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    with tarfile.open(target, "w:gz") as tar:
        for name, payload in members.items():
            payload = change(name, payload)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_tampered_bundle_is_refused(
    registry: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    moved = registry.register_candidate(make_artifact("v1", PASSING), "BTCUSDT", "1h", actor="a")
    version = registry.version(moved.to_version)  # type: ignore[arg-type]
    out = tmp_path / "bundle.tar.gz"
    export_bundle(registry, [version], out)
    onnx_digest = version.files["model.onnx"]

    def flip_model(name: str, payload: bytes) -> bytes:
        return payload[:-1] + bytes([payload[-1] ^ 1]) if name.endswith(onnx_digest) else payload

    def loosen_evaluation(name: str, payload: bytes) -> bytes:
        if not name.endswith("manifest.json"):
            return payload
        manifest = json.loads(payload)
        manifest["versions"][0]["evaluation"]["net_sharpe"] = 9.0
        return json.dumps(manifest).encode()

    fresh = Registry(registry.engine, tmp_path / "fresh" / "registry")
    for change, match in ((flip_model, onnx_digest), (loosen_evaluation, "manifest.json")):
        bad = tmp_path / f"bad-{change.__name__}.tar.gz"
        _rewrite(out, bad, change)
        with pytest.raises(BundleIntegrityError, match=match):
            import_bundle(fresh, bad, actor="x")
    assert not fresh.store.objects.exists()  # nothing stored from a refused bundle


def _cli(home: Path, database_url: str, *args: str, script: bool = False) -> Any:
    env = {**os.environ, "QG_HOME": str(home), "QG_DATABASE_URL": database_url, "USER": "tester"}
    env = {k: v for k, v in env.items() if not k.startswith("QG_CONFIG")}
    command = (
        [sys.executable, str(SCRIPT), *args]
        if script
        else [sys.executable, "-m", "quantgate.cli.app", "registry", *args]
    )
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_cli_flow(make_artifact: MakeArtifact, tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "cli-home"
    good, better, bad = (
        make_artifact("good", PASSING),
        make_artifact("better", {**PASSING, "net_sharpe": 3.0}),
        make_artifact("bad", FAILING),
    )

    def run(*args: str, code: int = 0, script: bool = False) -> Any:
        done = _cli(home, database_url, *args, script=script)
        assert done.returncode == code, done.stderr + done.stdout
        return json.loads(done.stdout) if "--json" in args or script else done

    first = run("register-candidate", "--artifact", str(good), "--symbol", "BTCUSDT",
                "--horizon", "1h", "--reason", "weekly", "--json")  # fmt: skip
    v1 = first["registered"][0]["to_version"]
    run("register-candidate", "--artifact", str(bad), "--symbol", "ETHUSDT",
        "--horizon", "1h", "--json")  # fmt: skip
    promoted = run("promote", "--all", "--json", code=1)  # ETH fails its rules
    verdicts = {(p["symbol"], p["refused"]) for p in promoted["promotions"]}
    assert verdicts == {("BTCUSDT", False), ("ETHUSDT", True)}
    eth = next(p for p in promoted["promotions"] if p["symbol"] == "ETHUSDT")
    assert {c["rule"]: c["verdict"] for c in eth["rules"]["checks"]} == {
        "net_sharpe": "fail",
        "max_drawdown": "fail",
        "deflated_sharpe": "pass",
        "pbo": "fail",
    }
    forced = _cli(home, database_url, "promote", "--symbol", "ETHUSDT", "--horizon", "1h",
                  "--force")  # fmt: skip
    assert forced.returncode == 2 and "needs a reason" in forced.stderr

    second = run("register-candidate", "--artifact", str(better), "--symbol", "BTCUSDT",
                 "--horizon", "1h", "--json")  # fmt: skip
    v2 = second["registered"][0]["to_version"]
    run("promote", "--symbol", "BTCUSDT", "--horizon", "1h", "--json")
    listed = run("list", "--symbol", "BTCUSDT", "--json")
    assert {v["version_id"]: v["aliases"] for v in listed["versions"]} == {v1: [], v2: ["active"]}

    rolled = run("--symbol", "BTCUSDT", "--horizon", "1h", "--reason", "slippage", script=True)
    assert (rolled["from_version"], rolled["to_version"]) == (v2, v1)
    no_reason = _cli(home, database_url, "rollback", "--symbol", "BTCUSDT", "--horizon", "1h")
    assert no_reason.returncode == 2  # typer: missing required option

    activated = run("activate", v2, "--reason", "fixed", "--actor", "ana", "--json")
    assert activated["to_version"] == v2
    shown = run("show", "--symbol", "BTCUSDT", "--horizon", "1h", "--json")
    assert shown["version"]["version_id"] == v2
    trail = [(r["action"], r["actor"], r["forced"]) for r in shown["audit"]]
    assert trail == [
        ("register-candidate", "tester", False),
        ("promote", "tester", False),
        ("register-candidate", "tester", False),
        ("promote", "tester", False),
        ("rollback", "tester", False),
        ("activate", "ana", False),
    ]

    bundle = tmp_path / "active.tar.gz"
    exported = run("export", "--out", str(bundle), "--json")
    assert exported["versions"] == [v2]
    imported = _cli(tmp_path / "elsewhere", f"sqlite:///{tmp_path / 'elsewhere.db'}",
                    "import", str(bundle), "--json")  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["versions"] == [{"version_id": v2, "created": True}]


def test_cli_register_latest_training_run(
    make_artifact: MakeArtifact, tmp_path: Path, database_url: str
) -> None:
    artifact = make_artifact("trained", {"oos": {"1h": {"mean_fold_net_sharpe": 2.0}}})
    engine = create_db_engine(database_url)
    upgrade(engine)
    backtest = {"max_drawdown": 0.1}
    folds = [
        {"symbol": s, "horizon": h, "fold": f, "backtest": {**backtest, "net_sharpe": 2.0 + f}}
        for s in ("BTCUSDT", "ETHUSDT")
        for h in ("1h", "4h")
        for f in (0, 1)
    ]
    metrics = {
        "per_fold": folds,
        "overfitting": {"horizon": "1h", "deflated_sharpe": {"dsr": 0.99}, "pbo": {"pbo": 0.05}},
    }
    with Session(engine) as session, session.begin():
        session.add(
            TrainingRun(
                run_id="train-1", created_at=datetime.now(UTC), kind="train",
                estimator="lightgbm", symbols={"symbols": ["BTCUSDT", "ETHUSDT"]},
                horizons={"horizons": ["1h", "4h"]}, windows={}, contract_hash="c" * 64,
                evaluated_contract_hash="c" * 64, data_manifest_hash="d" * 64,
                git_sha="a" * 40, config_hash="b" * 64, seed=1, n_trials=1,
                metrics=metrics, artifact_path=str(artifact),
            )
        )  # fmt: skip
    engine.dispose()
    home = tmp_path / "home"
    done = _cli(home, database_url, "register-candidate", "--run", "latest", "--json")
    assert done.returncode == 0, done.stderr
    registered = json.loads(done.stdout)["registered"]
    assert [(r["symbol"], r["horizon"]) for r in registered] == [
        ("BTCUSDT", "1h"),
        ("BTCUSDT", "4h"),
        ("ETHUSDT", "1h"),
        ("ETHUSDT", "4h"),
    ]
    assert all(r["created"] for r in registered)
    promoted = _cli(home, database_url, "promote", "--all", "--json")
    assert promoted.returncode == 1  # 4h has no deflated Sharpe / PBO: those rules are missing
    by_key = {(p["symbol"], p["horizon"]): p for p in json.loads(promoted.stdout)["promotions"]}
    assert not by_key[("BTCUSDT", "1h")]["refused"]
    four = {c["rule"]: c["verdict"] for c in by_key[("BTCUSDT", "4h")]["rules"]["checks"]}
    assert four == {
        "net_sharpe": "pass",
        "max_drawdown": "pass",
        "deflated_sharpe": "missing",
        "pbo": "missing",
    }
    shown = _cli(home, database_url, "show", "--symbol", "BTCUSDT", "--horizon", "1h", "--json")
    version = json.loads(shown.stdout)["version"]
    assert version["source_run_id"] == "train-1"
    assert version["evaluation"]["net_sharpe"] == 2.5 and version["evaluation"]["n_folds"] == 2
