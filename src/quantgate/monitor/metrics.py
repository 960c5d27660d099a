"""Prometheus metrics of the prediction service, on a registry of their own per app
(so two apps in one process — tests, benchmarks — never share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Request latency buckets reach down to 0.25 ms: the predict path's target is p99 <= 10 ms.
LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "qg_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "qg_predictions",
            "Predictions served, by symbol and horizon",
            ("symbol", "horizon"),
            registry=self.registry,
        )
        self.model_version = Gauge(
            "qg_model_version_info",
            "1 for the version each alias of (symbol, horizon) points at in the running service",
            ("symbol", "horizon", "alias", "version"),
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "qg_model_loaded",
            "1 when the active model of (symbol, horizon) is loaded",
            ("symbol", "horizon"),
            registry=self.registry,
        )

    def set_model_versions(self, versions: list[tuple[str, str, str, str]]) -> None:
        """(symbol, horizon, alias, version) of every loaded model; replaces the previous set."""
        self.model_version.clear()
        self.model_loaded.clear()
        for symbol, horizon, alias, version in versions:
            self.model_version.labels(symbol, horizon, alias, version).set(1)
            if alias == "active":
                self.model_loaded.labels(symbol, horizon).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
