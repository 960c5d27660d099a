"""`POST /api/v2/portfolio/rebalance` on the real server: target weights with the constraints
that bound, legacy equal weights, and a reported (never silent) fallback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from served_api import Server

PATH = "/api/v2/portfolio/rebalance"
SIGNALS = [
    {"symbol": "BTCUSDT", "target_exposure": 1.0, "expected_return": 0.05, "vol_forecast": 0.03},
    {"symbol": "ETHUSDT", "target_exposure": 1.0, "expected_return": 0.04, "vol_forecast": 0.04},
]
RISK = {
    "vols": [{"symbol": "BTCUSDT", "vol": 0.03}, {"symbol": "ETHUSDT", "vol": 0.04}],
    "correlations": [{"a": "BTCUSDT", "b": "ETHUSDT", "rho": 0.3}],
}


def test_allocator_v2_reports_the_constraints_that_bound(serve: Callable[..., Server]) -> None:
    server = serve()
    with server.client() as client:
        v2 = client.post(PATH, json={"allocator": "allocator_v2", "signals": SIGNALS,
                                     "risk_model": RISK}).json()  # fmt: skip
        legacy = client.post(PATH, json={"allocator": "legacy", "signals": SIGNALS}).json()
        lake = client.post(PATH, json={"allocator": "allocator_v2", "signals": SIGNALS}).json()
    assert v2["allocator_used"] == "allocator_v2" and v2["fallback_reason"] is None
    # Large edges over small vols want far more than the 25 % per-symbol cap.
    caps = [c for c in v2["bound_constraints"] if c["name"] == "symbol_cap"]
    assert {c["symbol"] for c in caps} == {"BTCUSDT", "ETHUSDT"}
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert v2["target_weights"][symbol] == pytest.approx(0.25, abs=1e-6)
    assert all(c["before"] > c["limit"] for c in caps)
    assert legacy["allocator_used"] == "legacy"
    assert sum(legacy["target_weights"].values()) == pytest.approx(1.0, abs=0.05)
    assert lake["risk_model_source"].startswith("lake: daily returns")
    assert lake["allocator_used"] == "allocator_v2"


def test_a_symbol_without_a_vol_falls_back_to_legacy_and_says_so(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    risk = {"vols": [{"symbol": "BTCUSDT", "vol": 0.03}]}
    with server.client() as client:
        answer = client.post(
            PATH, json={"allocator": "allocator_v2", "signals": SIGNALS, "risk_model": risk}
        )
        bad = client.post(PATH, json={"signals": [{"symbol": "BTCUSDT", "target_exposure": 2}]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["requested"] == "allocator_v2" and body["allocator_used"] == "legacy"
    assert "ETHUSDT" in body["fallback_reason"]
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body.signals.0.target_exposure"


def test_buckets_are_the_backtests_and_duplicate_views_are_refused(
    serve: Callable[..., Server],
) -> None:
    from quantgate.engine.instruments import InstrumentsConfig

    server = serve()
    symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    signals = [
        {"symbol": s, "target_exposure": 1.0, "expected_return": 0.01, "vol_forecast": 0.02}
        for s in symbols
    ]
    risk = {"vols": [{"symbol": s, "vol": 0.02} for s in symbols]}
    with server.client() as client:
        answer = client.post(PATH, json={"signals": signals, "risk_model": risk}).json()
        twice = client.post(PATH, json={"allocator": "legacy", "signals": signals + signals[:1]})
    engine = InstrumentsConfig().build(symbols, "sim")
    expected: dict[str, float] = {}
    for symbol in symbols:
        bucket = engine[symbol].bucket.value
        expected[bucket] = expected.get(bucket, 0.0) + answer["target_weights"][symbol]
    assert answer["diagnostics"]["bucket_gross"] == pytest.approx(expected)
    assert twice.status_code == 422
    # Python's JSON reader takes NaN and Infinity; they are refused for what they are.
    for literal in ("NaN", "Infinity"):
        text = f'{{"signals": [{{"symbol": "BTCUSDT", "target_exposure": {literal}}}]}}'
        with server.client() as client:
            odd = client.post(PATH, content=text, headers={"content-type": "application/json"})
        assert odd.status_code == 422
        assert odd.json()["error"]["field"] == "body.signals.0.target_exposure"
        assert "finite number" in odd.json()["error"]["message"]
    error = twice.json()["error"]
    assert error["field"] == "body.signals"
    assert "two signals of strategy 'api' for BTCUSDT" in error["message"]
