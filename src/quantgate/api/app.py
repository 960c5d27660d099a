"""The FastAPI application: `create_app(services)`; `quantgate serve` runs it with uvicorn.

The serving runtime is opened before the app exists (so a missing or corrupt
model stops start-up with a clear message instead of a half-working server)
and closed when the app shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from quantgate.api.body_guard import BodyGuardMiddleware
from quantgate.api.deps import require_viewer
from quantgate.api.errors import install_error_handlers
from quantgate.api.middleware import RequestMetricsMiddleware
from quantgate.api.routes import health, monitor, portfolio, predict, registry
from quantgate.api.services import ApiServices

API_VERSION = "2.0.0"


def create_app(services: ApiServices, *, background_refresh: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.publish_versions()
        if background_refresh:
            services.runtime.start_background_refresh()
        try:
            yield
        finally:
            services.runtime.close()

    app = FastAPI(
        title="quantgate",
        version=API_VERSION,
        description="Multi-horizon predictions, the model registry and service health.",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    reads = [Depends(require_viewer)] if services.settings.api_read_requires_token else []
    app.include_router(health.router)
    app.include_router(predict.router, dependencies=reads)
    app.include_router(monitor.router, dependencies=reads)
    app.include_router(registry.router, dependencies=reads)
    app.include_router(portfolio.router, dependencies=reads)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=services.settings.api_max_body_bytes)
    # Added last, so outermost: refused bodies are timed and counted too.
    app.add_middleware(RequestMetricsMiddleware, metrics=services.metrics)
    return app
