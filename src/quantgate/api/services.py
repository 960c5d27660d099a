"""What the routes share, built once per app: settings, registry, runtime, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from quantgate.config import Settings
from quantgate.inference.runtime import ServingRuntime
from quantgate.monitor.metrics import ServiceMetrics
from quantgate.registry import Registry


@dataclass
class ApiServices:
    settings: Settings
    registry: Registry
    runtime: ServingRuntime
    metrics: ServiceMetrics

    def refresh_models(self) -> None:
        """Apply alias moves now (after a write through the API) and publish the versions."""
        self.runtime.refresh()
        self.publish_versions()

    def publish_versions(self) -> None:
        versions = []
        for alias, models in (("active", self.runtime.active), ("shadow", self.runtime.shadow)):
            if models is None:
                continue
            for symbol, horizon in models.loaded_keys():
                entry = models.get(symbol, horizon)
                if entry is not None:
                    versions.append((symbol, horizon, alias, entry.version.version_id))
        self.metrics.set_model_versions(versions)
