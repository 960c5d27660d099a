"""Content-addressed artifact store: every file lives at objects/<sha256> and is verified on read.

    store = ArtifactStore(home / "registry")
    digest = store.put_file(Path("artifact/model.onnx"))
    payload = store.read(digest, name="model.onnx")   # ArtifactIntegrityError if altered

Objects are written once (via a temporary file and rename) and never changed;
putting the same bytes again is a no-op.
"""

from __future__ import annotations

import re
from pathlib import Path

from quantgate.ml.export.loader import ArtifactIntegrityError
from quantgate.ml.export.metadata import sha256_bytes, sha256_file, write_atomically

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise ArtifactIntegrityError(f"{digest!r} is not a sha256 hex digest")
    return digest


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"

    def path(self, digest: str) -> Path:
        return self.objects / check_digest(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_bytes(self, payload: bytes, expected: str | None = None) -> str:
        digest = sha256_bytes(payload)
        if expected is not None and digest != expected:
            raise ArtifactIntegrityError(
                f"content sha256 {digest} differs from the expected {expected}"
            )
        target = self.path(digest)
        if target.is_file() and sha256_file(target) == digest:
            return digest
        self.objects.mkdir(parents=True, exist_ok=True)
        write_atomically(target, payload)
        target.chmod(0o444)  # a reminder, not a guarantee: objects are never rewritten
        return digest

    def put_file(self, path: Path, expected: str | None = None) -> str:
        payload = Path(path).read_bytes()
        try:
            return self.put_bytes(payload, expected)
        except ArtifactIntegrityError:
            raise ArtifactIntegrityError(
                f"sha256 of {Path(path).name} is {sha256_bytes(payload)}, "
                f"expected {expected} (recorded in its metadata); refusing to store it",
                source=str(path),
            ) from None

    def read(self, digest: str, *, name: str | None = None) -> bytes:
        """The object's bytes, after checking they still hash to `digest`."""
        target = self.path(digest)
        label = f"{name} " if name else ""
        if not target.is_file():
            raise ArtifactIntegrityError(
                f"registry object {label}(sha256 {digest}) is missing", source=str(target)
            )
        payload = target.read_bytes()
        actual = sha256_bytes(payload)
        if actual != digest:
            raise ArtifactIntegrityError(
                f"registry object {label}was altered: expected sha256 {digest}, found {actual}; "
                "refusing to load it",
                source=str(target),
                fix="restore the object from a bundle or re-register the artifact",
            )
        return payload

    def verify(self, digest: str, *, name: str | None = None) -> None:
        self.read(digest, name=name)
