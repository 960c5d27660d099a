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


def _role(
    services: ApiServices, credentials: HTTPAuthorizationCredentials | None, need: str
) -> str:
    """`operator` or `viewer` for a valid bearer token; 401 without one or with a wrong one."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            f"a{'n' if need == 'operator' else ''} {need} bearer token is required",
            fix=f"send 'Authorization: Bearer <{need} token>'",
            headers=_CHALLENGE,
        )
    settings = services.settings
    tokens = {"operator": settings.operator_token.get_secret_value()}
    if settings.viewer_token is not None:
        tokens["viewer"] = settings.viewer_token.get_secret_value()
    given = credentials.credentials.encode()
    for role, token in tokens.items():
        if hmac.compare_digest(given, token.encode()):
            return role
    raise ApiError(401, "unauthorized", "the bearer token is not valid", headers=_CHALLENGE)


def require_operator(services: Services, credentials: Credentials) -> str:
    """The operator's bearer token: needed by every endpoint that changes state."""
    role = _role(services, credentials, "operator")
    if role != "operator":
        raise ApiError(403, "forbidden", "the viewer token cannot change state",
                       fix="use the operator token")  # fmt: skip
    return role


def require_viewer(services: Services, credentials: Credentials) -> str:
    """Read endpoints, when configured to need a token: the viewer's or the operator's."""
    return _role(services, credentials, "viewer")


Operator = Annotated[str, Depends(require_operator)]
