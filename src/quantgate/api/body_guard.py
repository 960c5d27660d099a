"""Request bodies the API accepts: JSON, and no larger than `api_max_body_bytes`.

Checked before any route reads a byte, as plain ASGI middleware: a body over the limit
is refused with 413 whether it declares its length or streams in chunks (read up to
the limit, never further), and a body that is not JSON with 415 rather than a 422
about the JSON it was never meant to be. Errors have the API's usual shape.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_MEDIA_TYPE = "application/json"


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {bytes(name).lower(): bytes(value) for name, value in scope["headers"]}
        declared = _declared_length(headers.get(b"content-length"))
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        if size and not _is_json(headers.get(b"content-type")):
            await _refuse(
                send,
                415,
                "unsupported_media_type",
                "the request body must be JSON",
                field="Content-Type",
                fix=f"send the body as JSON with the header Content-Type: {JSON_MEDIA_TYPE}",
            )
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the disconnect is left to wait for

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _refuse(
            send,
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body_bytes} bytes",
            field="body",
            fix="send fewer items per request, or raise QG_API_MAX_BODY_BYTES on the server",
        )


def _declared_length(value: bytes | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None  # a malformed length is the server's (uvicorn's) to refuse
    return int(value)


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _refuse(
    send: Send, status: int, code: str, message: str, *, field: str, fix: str
) -> None:
    payload = json.dumps(
        {"error": {"code": code, "message": message, "field": field, "fix": fix, "detail": None}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
