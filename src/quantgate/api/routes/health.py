"""Liveness, readiness and the Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from quantgate.api.deps import Services
from quantgate.api.schemas import HealthOut, ReadinessOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readiness",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "not ready"}},
)
def readiness(services: Services) -> JSONResponse:
    models = services.runtime.models_loaded()
    database = services.runtime.database_reachable()
    body = ReadinessOut(ready=models and database, models_loaded=models, database=database)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(services: Services) -> Response:
    services.publish_versions()  # alias moves seen by the background refresh
    return Response(services.metrics.exposition(), media_type=services.metrics.content_type)
