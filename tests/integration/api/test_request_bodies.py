"""Request bodies on the real server: JSON only (415 otherwise) and at most
QG_API_MAX_BODY_BYTES (413, declared or streamed), refused before a route reads them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from served_api import Server

PATH = "/api/v2/portfolio/rebalance"
LIMIT = 4096
SMALL = {"allocator": "legacy", "signals": [{"symbol": "BTCUSDT", "target_exposure": 1.0}]}
# A valid rebalance, only too long: hundreds of distinct symbols.
LARGE = {
    "allocator": "legacy",
    "signals": [{"symbol": f"S{i:04d}USDT", "target_exposure": 1.0} for i in range(400)],
}


def test_bodies_over_the_limit_or_not_json_are_refused_by_name(
    serve: Callable[..., Server],
) -> None:
    # One server for every case: starting one costs more than all the requests.
    server = serve(env={"QG_API_MAX_BODY_BYTES": str(LIMIT)})
    large = json.dumps(LARGE).encode()
    small = json.dumps(SMALL).encode()
    assert len(large) > LIMIT

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(large), 1000):
            yield large[start : start + 1000]

    json_type = {"Content-Type": "application/json"}
    with server.client() as client:
        declared = client.post(PATH, content=large, headers=json_type)
        streamed = client.post(PATH, content=chunks(), headers=json_type)
        untyped = client.post(PATH, content=small)  # httpx sets no content type for bytes
        text = client.post(PATH, content=small, headers={"Content-Type": "text/plain"})
        with_charset = client.post(
            PATH, content=small, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        schema = client.get("/openapi.json").json()

    for answer in (declared, streamed):
        assert answer.status_code == 413
        error = answer.json()["error"]
        assert error["code"] == "payload_too_large"
        assert str(LIMIT) in error["message"]
        assert "QG_API_MAX_BODY_BYTES" in error["fix"]
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    for answer in (untyped, text):
        assert answer.status_code == 415
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == ("unsupported_media_type", "Content-Type")
        assert "application/json" in error["fix"]
    # The server carries on, and a JSON body within the limit goes through.
    assert with_charset.status_code == 200
    assert with_charset.json()["target_weights"] == {"BTCUSDT": 1.0}
    assert {"413", "415"} <= set(schema["paths"][PATH]["post"]["responses"])
