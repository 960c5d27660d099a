"""The prediction API on a real uvicorn server: four horizons + legacy fields per symbol, equal
to the registry model run directly on the stored feature row; auth, error codes, status,
metrics and readiness."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from served_api import OPERATOR, SYMBOLS, VIEWER, ServedHome, Server

from quantgate.features.blocks.latent import MarketLatent
from quantgate.features.config import FeaturesConfig
from quantgate.features.contract import feature_contract
from quantgate.features.store import read_feature_matrix
from quantgate.registry import Registry
from quantgate.storage import Lake, create_db_engine

HORIZONS = ("1h", "4h", "1d", "7d")


def direct_prediction(home: ServedHome, version_id: str, symbol: str) -> dict[str, Any]:
    """The registry version run in-process on the newest stored row (market latent from the
    model's own fit, through the feature store's reader — not the server's code path)."""
    engine = create_db_engine(f"sqlite:///{home.home / 'quantgate.db'}")
    contract = feature_contract(FeaturesConfig(embedder="hashing"))
    model = Registry(engine, home.home / "registry").load(
        version_id, expected_contract_hash=contract.contract_hash
    )
    latent = MarketLatent.from_dict(model.metadata.metrics["market_latent"])  # type: ignore[arg-type]
    matrix = read_feature_matrix(
        Lake(home.home / "lake"), [symbol], contract=contract, latent=latent
    ).tail(1)
    X = matrix.select(contract.names).cast({c: float for c in contract.names}).to_numpy()  # noqa: N806
    prediction = model.predict(X.astype(np.float32))
    engine.dispose()
    return {
        "asof": matrix["asof"].item(),
        "expected_return": {h.value: float(p.expected_return[0]) for h, p in prediction.items()},
        "vol_forecast": {h.value: float(p.vol_forecast[0]) for h, p in prediction.items()},
        "signal_confidence": {
            h.value: float(p.signal_confidence[0]) for h, p in prediction.items()
        },
    }


def test_each_symbol_gets_four_horizons_and_the_legacy_fields(
    served_home: ServedHome, serve: Callable[..., Server]
) -> None:
    server = serve()
    with server.client() as client:
        single = client.get("/api/v2/predict/liquid", params={"symbol": "BTCUSDT"})
        batch = client.post("/api/v2/predict/liquid", json={"symbols": list(SYMBOLS)})
    assert single.status_code == 200, single.text
    assert batch.status_code == 200, batch.text
    assert [p["symbol"] for p in batch.json()["predictions"]] == list(SYMBOLS)
    assert single.json()["predictions"][0] == batch.json()["predictions"][0]

    for answer in batch.json()["predictions"]:
        for head in ("expected_return", "signal_confidence", "vol_forecast"):
            assert set(answer[head]) == set(HORIZONS)
            assert answer[f"{head}_legacy"] == answer[head]["1d"]
        assert all(answer["vol_forecast"][h] > 0 for h in HORIZONS)
        assert all(0 <= answer["signal_confidence"][h] <= 1 for h in HORIZONS)
        asof = datetime.fromisoformat(answer["asof"])
        assert datetime.fromisoformat(answer["max_input_available_at"]) <= asof
        assert answer["contract_hash"] == batch.json()["contract_hash"]

        version = answer["model_version"]["1h"]
        direct = direct_prediction(served_home, version, answer["symbol"])
        assert asof == direct["asof"]
        for head in ("expected_return", "vol_forecast", "signal_confidence"):
            for h in HORIZONS:
                assert answer[head][h] == pytest.approx(direct[head][h], rel=1e-5, abs=1e-7)


def test_asof_picks_the_newest_row_at_or_before_it(serve: Callable[..., Server]) -> None:
    server = serve()
    with server.client() as client:
        asked = "2025-02-10T05:30:00+00:00"
        answer = client.get(
            "/api/v2/predict/liquid", params={"symbol": "ETHUSDT", "asof": asked}
        ).json()["predictions"][0]
        early = client.get(
            "/api/v2/predict/liquid", params={"symbol": "ETHUSDT", "asof": "2019-01-01T00:00:00Z"}
        )
        naive = client.get(
            "/api/v2/predict/liquid", params={"symbol": "ETHUSDT", "asof": "2025-02-10T05:30:00"}
        )
    assert answer["asof"] == "2025-02-10T05:01:00Z"
    assert early.status_code == 404 and early.json()["error"]["code"] == "no_feature_row"
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "query.asof"


def test_errors_are_json_with_code_and_message(serve: Callable[..., Server]) -> None:
    server = serve()
    with server.client() as client:
        unknown = client.get("/api/v2/predict/liquid", params={"symbol": "DOGEUSDT"})
        bad_horizon = client.get(
            "/api/v2/predict/liquid", params={"symbol": "BTCUSDT", "horizon": "2h"}
        )
        bad_body = client.post("/api/v2/predict/liquid", json={"symbols": []})
        no_route = client.get("/api/v2/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_symbol"
    assert "DOGEUSDT" in unknown.json()["error"]["message"]
    assert bad_horizon.status_code == 422
    assert bad_horizon.json()["error"]["code"] == "invalid_request"
    assert bad_body.status_code == 422 and bad_body.json()["error"]["field"] == "body.symbols"
    assert no_route.status_code == 404 and no_route.json()["error"]["code"] == "not_found"


def test_writes_need_the_operator_token(serve: Callable[..., Server]) -> None:
    server = serve()
    body = {"symbol": "BTCUSDT", "horizon": "1h", "reason": "test"}
    path = "/api/v2/models/liquid/registry/rollback"
    with server.client() as anonymous, server.client(VIEWER) as viewer:
        assert anonymous.post(path, json=body).status_code == 401
        assert anonymous.get("/api/v2/models/liquid/registry").status_code == 200
        assert viewer.post(path, json=body).status_code == 403
    with server.client("not-a-token") as stranger:
        assert stranger.post(path, json=body).status_code == 401
    with server.client(OPERATOR) as operator:
        # One version was ever active: the rollback is a conflict, not an auth error.
        refused = operator.post(path, json=body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "registry_conflict"


def test_reads_can_be_closed_to_a_viewer_token(serve: Callable[..., Server]) -> None:
    server = serve(env={"QG_API_READ_REQUIRES_TOKEN": "true"})
    with server.client() as anonymous, server.client(VIEWER) as viewer:
        assert (
            anonymous.get("/api/v2/predict/liquid", params={"symbol": "BTCUSDT"}).status_code == 401
        )
        assert viewer.get("/api/v2/predict/liquid", params={"symbol": "BTCUSDT"}).status_code == 200
        assert anonymous.get("/healthz").status_code == 200


def test_status_metrics_and_readiness(serve: Callable[..., Server]) -> None:
    server = serve()
    before = datetime.now(UTC)
    with server.client() as client:
        for _ in range(3):
            assert (
                client.get("/api/v2/predict/liquid", params={"symbol": "BTCUSDT"}).status_code
                == 200
            )
        status = client.get("/api/v2/monitor/model-status").json()
        metrics = client.get("/metrics")
        ready = client.get("/readiness")
    rows = {(m["symbol"], m["horizon"]): m for m in status["models"]}
    assert set(rows) == {(s, h) for s in SYMBOLS for h in HORIZONS}
    btc = rows[("BTCUSDT", "1d")]
    assert btc["loaded"] and btc["loaded_version"] == btc["active_version"]
    assert btc["age_seconds"] > 0
    assert datetime.fromisoformat(btc["last_prediction_at"]) >= before
    assert rows[("ETHUSDT", "1d")]["last_prediction_at"] is None

    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'qg_predictions_total{horizon="1d",symbol="BTCUSDT"} 3.0' in text
    assert (
        'qg_http_request_duration_seconds_count{method="GET",route="/api/v2/predict/liquid",'
        'status="200"} 3.0'
    ) in text
    assert f'version="{btc["active_version"]}"' in text and "qg_model_version_info" in text
    assert ready.status_code == 200 and ready.json() == {
        "ready": True,
        "models_loaded": True,
        "database": True,
    }
