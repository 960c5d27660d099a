"""Typed dependencies: the shared services and the two credentials (operator, viewer)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from quantgate.api.errors import ApiError
from quantgate.api.services import ApiServices

bearer = HTTPBearer(auto_error=False, scheme_name="bearerAuth")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_operator(services: Services, credentials: Credentials) -> str:
    """The operator's bearer token: needed by every endpoint that changes state."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "an operator bearer token is required",
            fix="send 'Authorization: Bearer <operator token>'",
            headers=_CHALLENGE,
        )
    settings = services.settings
    if _matches(credentials.credentials, settings.operator_token.get_secret_value()):
        return "operator"
    viewer = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    if _matches(credentials.credentials, viewer):
        raise ApiError(
            403, "forbidden", "the viewer token cannot change state", fix="use the operator token"
        )
    raise ApiError(401, "unauthorized", "the bearer token is not valid", headers=_CHALLENGE)


def require_viewer(services: Services, credentials: Credentials) -> str:
    """Read endpoints, when configured to need a token: the viewer's or the operator's."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "a viewer bearer token is required",
            fix="send 'Authorization: Bearer <viewer token>'",
            headers=_CHALLENGE,
        )
    settings = services.settings
    viewer = settings.viewer_token.get_secret_value() if settings.viewer_token else None
    if _matches(credentials.credentials, viewer):
        return "viewer"
    if _matches(credentials.credentials, settings.operator_token.get_secret_value()):
        return "operator"
    raise ApiError(401, "unauthorized", "the bearer token is not valid", headers=_CHALLENGE)


Operator = Annotated[str, Depends(require_operator)]
