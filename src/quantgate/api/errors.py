"""Every API error is JSON `{"error": {"code", "message", "field", "fix", "detail"}}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from quantgate.core.errors import ConfigurationError, DataError, QuantgateError
from quantgate.inference.predictor import NoFeatureRowError, UnknownSymbolError
from quantgate.registry.errors import (
    MissingEvaluationError,
    RegistryUsageError,
    UnknownVersionError,
)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    fix: str | None = None
    detail: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fix: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorDetail(code=code, message=message, field=field, fix=fix, detail=detail)
        self.headers = headers


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can return."""
    return {status: {"model": ErrorBody} for status in statuses}


# Most specific first: the first matching class decides status and code.
_DOMAIN_ERRORS: tuple[tuple[type[QuantgateError], int, str], ...] = (
    (UnknownSymbolError, 404, "unknown_symbol"),
    (NoFeatureRowError, 404, "no_feature_row"),
    (UnknownVersionError, 404, "unknown_version"),
    (MissingEvaluationError, 409, "missing_evaluation"),
    (RegistryUsageError, 409, "registry_conflict"),
    (ConfigurationError, 400, "configuration"),
    (DataError, 409, "data"),
)


def api_error_from(error: QuantgateError) -> ApiError:
    status, code = next(
        ((status, code) for kind, status, code in _DOMAIN_ERRORS if isinstance(error, kind)),
        (500, "internal"),
    )
    return ApiError(
        status,
        code,
        getattr(error, "message", str(error)),
        field=getattr(error, "field", None),
        fix=getattr(error, "fix", None),
    )


def _json(error: ApiError) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=error.body).model_dump(mode="json"),
        status_code=error.status,
        headers=error.headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None) or set()
        for method in route_methods:
            match, _ = route.matches({**request.scope, "method": method})
            if match is Match.FULL:
                methods |= set(route_methods)
                break
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return _json(error)

    async def on_domain_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QuantgateError)
        return _json(api_error_from(error))

    async def on_validation_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            {
                "field": ".".join(str(part) for part in item.get("loc", ())),
                "message": str(item.get("msg", "")),
            }
            for item in error.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        return _json(
            ApiError(
                422,
                "invalid_request",
                f"{first['field']}: {first['message']}",
                field=first["field"] or None,
                fix="correct the field as described (see the OpenAPI schema at /openapi.json)",
                detail=problems,
            )
        )

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, "http_error"
        )
        headers = dict(error.headers) if error.headers else {}
        if error.status_code == 405:
            # GET and POST of one path are two routes; Allow must list both.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _json(ApiError(error.status_code, code, str(error.detail), headers=headers or None))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(QuantgateError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
