"""The serving runtime: load every configured model at start (or refuse to start), then follow
the registry and the feature store from a background thread.

    runtime = ServingRuntime.open(engine, lake, home, config)   # raises ServingStartupError
    prediction = runtime.predictor.predict("BTCUSDT")
    runtime.close()

Start-up is all-or-nothing: a configured (symbol, horizon) without an active
model, an artifact whose bytes differ from their recorded sha256, or a model
trained on another feature contract stops it with one message listing each
problem. After start, an alias move (activate, rollback, promote) is picked up
by `refresh()`; a version that fails to load then is not swapped in — the
previous one keeps serving and the failure is kept in `errors`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import Engine, text

from quantgate.core.errors import ConfigurationError, QuantgateError
from quantgate.features.contract import CONTRACT, FeatureContract
from quantgate.inference.config import ServingConfig
from quantgate.inference.features import FeatureRowCache
from quantgate.inference.predictor import LiquidPredictor
from quantgate.inference.served_model import ServedModel
from quantgate.inference.shadow import ShadowLog
from quantgate.registry.runtime import ActiveModels, Change
from quantgate.registry.service import ACTIVE, SHADOW, Registry
from quantgate.storage.lake import Lake

log = structlog.get_logger(__name__)


class ServingStartupError(ConfigurationError):
    """A configured model is missing, corrupt or built for another feature contract."""


@dataclass
class RuntimeErrors:
    """Load failures seen after start (the previous model kept serving)."""

    items: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, change: Change) -> None:
        with self.lock:
            self.items.append(
                {
                    "symbol": change.symbol,
                    "horizon": change.horizon,
                    "version_id": change.to_version or "",
                    "error": change.error or "",
                    "at": datetime.now(UTC).isoformat(),
                }
            )
            del self.items[:-50]

    def snapshot(self) -> list[dict[str, str]]:
        with self.lock:
            return list(self.items)


class ServingRuntime:
    def __init__(
        self,
        registry: Registry,
        lake: Lake,
        home: Path,
        config: ServingConfig,
        contract: FeatureContract = CONTRACT,
    ) -> None:
        self.registry = registry
        self.config = config
        self.contract = contract
        self.started_at = datetime.now(UTC)
        self.errors = RuntimeErrors()
        symbols = self._served_symbols()
        keys = {(s, h.value) for s in symbols for h in config.horizons}
        self.active = ActiveModels(
            registry, expected_contract_hash=contract.contract_hash, alias=ACTIVE, keys=keys
        )
        self.shadow = (
            ActiveModels(
                registry, expected_contract_hash=contract.contract_hash, alias=SHADOW, keys=keys
            )
            if config.shadow_enabled
            else None
        )
        self.shadow_log = ShadowLog(registry.engine, home / "shadow") if self.shadow else None
        self.features = FeatureRowCache(
            lake, symbols, cache_days=config.feature_cache_days, contract=contract
        )
        self.predictor = LiquidPredictor(
            self.active,
            self.features,
            shadow=self.shadow,
            shadow_log=self.shadow_log,
            contract=contract,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_refresh: datetime | None = None

    @classmethod
    def open(
        cls,
        registry: Registry,
        lake: Lake,
        home: Path,
        config: ServingConfig,
        contract: FeatureContract = CONTRACT,
    ) -> ServingRuntime:
        runtime = cls(registry, lake, home, config, contract)
        try:
            runtime._load_or_refuse()
        except BaseException:
            runtime.close()
            raise
        return runtime

    @property
    def engine(self) -> Engine:
        return self.registry.engine

    def _served_symbols(self) -> list[str]:
        if self.config.symbols:
            return list(self.config.symbols)
        return sorted({symbol for symbol, _ in self.registry.alias_snapshot(ACTIVE)})

    def _load_or_refuse(self) -> None:
        problems: list[str] = []
        changes = self.active.refresh()
        for change in changes:
            if change.error:
                problems.append(
                    f"{change.symbol} {change.horizon} ({change.to_version}): {change.error}"
                )
        loaded = set(self.active.loaded_keys())
        for symbol in self.features.symbols:
            for h in self.config.horizons:
                key = (symbol, h.value)
                if key not in loaded and not any(
                    c.symbol == symbol and c.horizon == h.value and c.error for c in changes
                ):
                    problems.append(
                        f"{symbol} {h.value}: no active model "
                        "(fix: `quantgate registry activate VERSION`)"
                    )
        for key in sorted(loaded):
            entry = self.active.get(*key)
            if entry is None:
                continue
            try:
                ServedModel(entry.model, self.contract)
            except QuantgateError as error:
                problems.append(f"{key[0]} {key[1]} ({entry.version.version_id}): {error}")
        if not self.features.symbols:
            problems.append(
                "no active model in the registry (fix: register, promote or activate a model)"
            )
        if problems:
            raise ServingStartupError(
                "the prediction service cannot start:\n  " + "\n  ".join(problems),
                fix="repair or re-register the models named above, or narrow "
                "the serving symbols/horizons in settings",
            )
        if self.shadow is not None:
            for change in self.shadow.refresh():
                if change.error:
                    self.errors.add(change)
        self.features.refresh()
        self.last_refresh = datetime.now(UTC)

    def refresh(self) -> list[Change]:
        """Follow alias moves and new feature rows; return the model changes."""
        changes = self.active.refresh()
        if self.shadow is not None:
            changes += self.shadow.refresh()
        for change in changes:
            if change.error:
                self.errors.add(change)
                log.error(
                    "model load failed; previous version keeps serving",
                    symbol=change.symbol,
                    horizon=change.horizon,
                    version=change.to_version,
                    error=change.error,
                )
            else:
                log.info(
                    "model changed",
                    symbol=change.symbol,
                    horizon=change.horizon,
                    from_version=change.from_version,
                    to_version=change.to_version,
                )
        self.features.refresh()
        self.last_refresh = datetime.now(UTC)
        return changes

    def start_background_refresh(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._refresh_loop, name="serving-refresh", daemon=True
        )
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.config.refresh_seconds):
            try:
                self.refresh()
            except Exception as error:
                log.error("serving refresh failed", error=str(error))

    def database_reachable(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def models_loaded(self) -> bool:
        loaded = set(self.active.loaded_keys())
        return all(
            (symbol, h.value) in loaded
            for symbol in self.features.symbols
            for h in self.config.horizons
        ) and bool(loaded)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.shadow_log is not None:
            self.shadow_log.flush()
            self.shadow_log.close()
