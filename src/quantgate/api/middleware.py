"""Request timing (Prometheus histogram by route template) and request ids, as plain ASGI
middleware: the per-request cost stays a few microseconds."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantgate.monitor.metrics import ServiceMetrics

REQUEST_ID_HEADER = b"x-request-id"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route: Any = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self.metrics.request_seconds.labels(scope["method"], template, str(status)).observe(
                    time.perf_counter() - started
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            text = bytes(value).decode("latin-1")[:64]
            if text and all(c.isalnum() or c in "-_." for c in text):
                return text
    return None
