"""What the inference runtime holds: the verified ONNX model behind each (symbol, horizon) alias.

    models = ActiveModels(registry, expected_contract_hash=CONTRACT.contract_hash)
    models.refresh()                      # at start-up, then every few seconds / each bar
    entry = models.get("BTCUSDT", "1h")   # LoadedModel(version, model) or None

`refresh()` runs one small query (the alias rows: version id + generation per
(symbol, horizon)) and reloads only what moved, so a promote, activate or
rollback reaches a running process without a restart. A model that fails to
load (altered object, different feature contract) is not swapped in: the
previous one keeps serving and the failure is returned in the `Change`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from quantgate.core.enums import Horizon
from quantgate.core.errors import QuantgateError
from quantgate.ml.export.loader import OnnxMultiHorizonModel
from quantgate.registry.service import ACTIVE, ModelVersion, Registry, horizon_value


@dataclass(frozen=True, slots=True)
class LoadedModel:
    version: ModelVersion
    model: OnnxMultiHorizonModel
    generation: int


@dataclass(frozen=True, slots=True)
class Change:
    symbol: str
    horizon: str
    from_version: str | None
    to_version: str | None
    error: str | None = None  # set when the new version could not be loaded


class ActiveModels:
    def __init__(
        self,
        registry: Registry,
        *,
        expected_contract_hash: str | None,
        alias: str = ACTIVE,
        keys: set[tuple[str, str]] | None = None,
    ) -> None:
        self.registry = registry
        self.alias = alias
        self.expected_contract_hash = expected_contract_hash
        self._keys = keys
        self._loaded: dict[tuple[str, str], LoadedModel] = {}
        # A version that failed to load is not retried until its alias moves again:
        # retrying every poll would re-read and re-hash the artifact each second.
        self._failed: dict[tuple[str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()
        # Refreshes run one at a time: two interleaved ones (the poller and a write through
        # the API) could otherwise store an older snapshot over a newer one.
        self._refresh_lock = threading.Lock()

    def refresh(self) -> list[Change]:
        """Load what moved since the last call; return the changes (empty when none)."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> list[Change]:
        snapshot = self.registry.alias_snapshot(self.alias)
        if self._keys is not None:
            snapshot = {key: value for key, value in snapshot.items() if key in self._keys}
        changes: list[Change] = []
        with self._lock:
            current = dict(self._loaded)
        for key in sorted(set(current) - set(snapshot)):
            changes.append(Change(*key, current[key].version.version_id, None))
            current.pop(key)
        # Versions of one training run share an artifact: open each artifact once.
        by_digest = {held.version.artifact_digest: held.model for held in current.values()}
        for key, (version_id, generation) in sorted(snapshot.items()):
            held = current.get(key)
            if held is not None and held.version.version_id == version_id:
                if held.generation != generation:
                    current[key] = LoadedModel(held.version, held.model, generation)
                continue
            before = held.version.version_id if held else None
            if self._failed.get(key) == (version_id, generation):
                continue
            try:
                version = self.registry.version(version_id)
                model = by_digest.get(version.artifact_digest) or self.registry.load(
                    version, expected_contract_hash=self.expected_contract_hash
                )
            except QuantgateError as error:
                self._failed[key] = (version_id, generation)
                changes.append(Change(*key, before, version_id, error=str(error)))
                continue
            by_digest[version.artifact_digest] = model
            current[key] = LoadedModel(version, model, generation)
            changes.append(Change(*key, before, version_id))
        with self._lock:
            self._loaded = current
        return changes

    def get(self, symbol: str, horizon: Horizon | str) -> LoadedModel | None:
        with self._lock:
            return self._loaded.get((symbol, horizon_value(horizon)))

    def loaded_keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._loaded)
