"""Inference bundles: a tar.gz of model versions (objects, metadata, evaluation) and the
feature contract, with a checksum manifest verified on import.

    bundle/manifest.json     format, versions (full records), contract hash,
                             checksums {member: sha256} of every other member
    bundle/manifest.sha256   sha256 of manifest.json (catches corruption; not a signature)
    bundle/contract.json     {"contract_hash", "specs": [[name, block, dtype, version], ...]}
    bundle/objects/<sha256>  artifact files, named by their content hash

Import refuses the whole bundle when any member is missing, unexpected, or does not
hash to its recorded value, and never modifies an existing version.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantgate.config.base import canonical_json
from quantgate.features.contract import FeatureContract
from quantgate.ml.export.loader import ArtifactIntegrityError
from quantgate.ml.export.metadata import ArtifactMetadata, sha256_bytes, write_atomically
from quantgate.ml.export.naming import METADATA_FILE
from quantgate.registry.service import ModelVersion, Registry, _jsonable
from quantgate.storage.models.registry import ModelVersionRow

FORMAT = "quantgate-inference-bundle/1"
ROOT = "bundle"
MANIFEST = f"{ROOT}/manifest.json"
MANIFEST_SUM = f"{ROOT}/manifest.sha256"
CONTRACT_MEMBER = f"{ROOT}/contract.json"


class BundleIntegrityError(ArtifactIntegrityError):
    """A bundle member is missing, unexpected or altered."""


@dataclass(frozen=True, slots=True)
class ImportedVersion:
    version: ModelVersion
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"version_id": self.version.version_id, "created": self.created}


def contract_document(contract: FeatureContract) -> dict[str, Any]:
    return {
        "contract_hash": contract.contract_hash,
        "specs": [spec.as_list() for spec in contract.specs],
    }


def export_bundle(
    registry: Registry,
    versions: list[ModelVersion],
    out: Path,
    *,
    contract: FeatureContract | None = None,
    aliases: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write `out` (tar.gz) holding `versions`; objects are verified as they are read."""
    if contract is None:
        from quantgate.features.contract import CONTRACT as DEFAULT_CONTRACT

        contract = DEFAULT_CONTRACT
    members: dict[str, bytes] = {}
    for version in versions:
        for name, digest in version.files.items():
            members.setdefault(f"{ROOT}/objects/{digest}", registry.store.read(digest, name=name))
    members[CONTRACT_MEMBER] = (canonical_json(contract_document(contract)) + "\n").encode()
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "contract_hash": contract.contract_hash,
        "versions": [version.to_dict(with_metadata=True) for version in versions],
        "aliases": aliases or {},
        "checksums": {name: sha256_bytes(payload) for name, payload in sorted(members.items())},
    }
    members[MANIFEST] = json.dumps(_jsonable(manifest), indent=2, sort_keys=True).encode()
    members[MANIFEST_SUM] = (sha256_bytes(members[MANIFEST]) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(members[name]))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, buffer.getvalue())
    return {
        "path": str(out),
        "sha256": sha256_bytes(buffer.getvalue()),
        "versions": [version.version_id for version in versions],
        "contract_hash": contract.contract_hash,
        "objects": sum(1 for name in members if name.startswith(f"{ROOT}/objects/")),
    }


def read_bundle(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The verified manifest and members of a bundle; BundleIntegrityError on any mismatch."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise BundleIntegrityError(
                        f"member {info.name} is not a regular file", source=str(path)
                    )
                handle = tar.extractfile(info)
                assert handle is not None
                members[info.name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BundleIntegrityError(f"not a readable tar.gz ({error})", source=str(path)) from None
    for required in (MANIFEST, MANIFEST_SUM, CONTRACT_MEMBER):
        if required not in members:
            raise BundleIntegrityError(f"{required} is missing", source=str(path))
    recorded = members[MANIFEST_SUM].decode().strip()
    if sha256_bytes(members[MANIFEST]) != recorded:
        raise BundleIntegrityError(
            f"{MANIFEST} was altered: expected sha256 {recorded}, found "
            f"{sha256_bytes(members[MANIFEST])}",
            source=str(path),
        )
    manifest = json.loads(members[MANIFEST])
    if manifest.get("format") != FORMAT:
        raise BundleIntegrityError(f"unknown bundle format {manifest.get('format')!r}")
    checksums: dict[str, str] = manifest["checksums"]
    unexpected = set(members) - set(checksums) - {MANIFEST, MANIFEST_SUM}
    if unexpected:
        raise BundleIntegrityError(f"unexpected members {sorted(unexpected)}", source=str(path))
    for name, expected in checksums.items():
        if name not in members:
            raise BundleIntegrityError(f"{name} is missing", source=str(path))
        actual = sha256_bytes(members[name])
        if actual != expected:
            raise BundleIntegrityError(
                f"{name} was altered: expected sha256 {expected}, found {actual}",
                source=str(path),
            )
        if name.startswith(f"{ROOT}/objects/") and name.rsplit("/", 1)[1] != actual:
            raise BundleIntegrityError(f"{name} does not hold its own content hash")
    contract = json.loads(members[CONTRACT_MEMBER])
    specs_hash = hashlib.sha256(canonical_json(contract["specs"]).encode()).hexdigest()
    if specs_hash != contract["contract_hash"] or specs_hash != manifest["contract_hash"]:
        raise BundleIntegrityError("contract.json does not hash to its recorded contract_hash")
    for version in manifest["versions"]:
        for name, digest in version["files"].items():
            if f"{ROOT}/objects/{digest}" not in members:
                raise BundleIntegrityError(
                    f"{version['version_id']}: object {name} (sha256 {digest}) is missing"
                )
        metadata = ArtifactMetadata.model_validate_json(
            members[f"{ROOT}/objects/{version['files'][METADATA_FILE]}"]
        )
        if metadata.contract_hash != version["contract_hash"]:
            raise BundleIntegrityError(f"{version['version_id']}: contract hash mismatch")
        if version["artifact_digest"] != version["files"][METADATA_FILE]:
            raise BundleIntegrityError(f"{version['version_id']}: artifact digest mismatch")
    return manifest, members


def import_bundle(
    registry: Registry, path: Path, *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Verify the whole bundle first, then store its objects and versions (aliases never move)."""
    manifest, members = read_bundle(path)
    for name, payload in members.items():
        if name.startswith(f"{ROOT}/objects/"):
            registry.store.put_bytes(payload, expected=name.rsplit("/", 1)[1])
    imported: list[ImportedVersion] = []
    for record in manifest["versions"]:
        row = ModelVersionRow(
            version_id=record["version_id"],
            symbol=record["symbol"],
            horizon=record["horizon"],
            artifact_digest=record["artifact_digest"],
            files=record["files"],
            model_metadata=record["metadata"],
            contract_hash=record["contract_hash"],
            evaluation=record["evaluation"],
            source_run_id=record["source_run_id"],
            created_at=datetime.fromisoformat(record["created_at"]),
            created_by=record["created_by"],
        )
        version, created = registry._insert_version(row)
        if created:
            registry.record_audit(
                "import",
                version,
                actor=actor,
                reason=reason,
                detail={"bundle": str(path), "bundle_contract_hash": manifest["contract_hash"]},
            )
        imported.append(ImportedVersion(version, created))
    return {
        "path": str(path),
        "contract_hash": manifest["contract_hash"],
        "versions": [item.to_dict() for item in imported],
        "aliases": manifest.get("aliases", {}),
    }
