"""`POST /api/v2/portfolio/rebalance` on the real server: a risk model the allocator could not
use as sent is refused by name (422), and a fallback for want of lake data says which symbol
lacked it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from served_api import Server

PATH = "/api/v2/portfolio/rebalance"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
SIGNALS = [
    {"symbol": symbol, "target_exposure": exposure, "expected_return": 0.002 * exposure,
     "vol_forecast": 0.02}
    for symbol, exposure in zip(SYMBOLS, (1.0, -1.0, 1.0), strict=True)
]  # fmt: skip
VOLS = [{"symbol": symbol, "vol": 0.02} for symbol in SYMBOLS]


def pair(a: str, b: str, rho: float) -> dict[str, Any]:
    return {"a": a, "b": b, "rho": rho}


REFUSED_CORRELATIONS = {
    # Silently dropped before: the answer used 0 where the client sent 0.9.
    "a symbol without a vol": ([pair("BTCUSDT", "XRPUSDT", 0.9)], "XRPUSDT, which has no vol"),
    "a symbol with itself": ([pair("ETHUSDT", "ETHUSDT", 0.5)], "pairs ETHUSDT with itself"),
    # Eigenvalues -0.8, 1.9, 1.9: allocator_v2 fell back to legacy on a client's typo.
    "mutually inconsistent pairs": (
        [
            pair("BTCUSDT", "ETHUSDT", 0.9),
            pair("ETHUSDT", "BNBUSDT", 0.9),
            pair("BTCUSDT", "BNBUSDT", -0.9),
        ],
        "eigenvalue -0.8 < 0",
    ),
}


def test_a_risk_model_that_cannot_be_used_as_sent_is_refused_by_name(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    with server.client() as client:
        answers = {
            case: client.post(
                PATH,
                json={"signals": SIGNALS, "risk_model": {"vols": VOLS, "correlations": pairs}},
            )
            for case, (pairs, _) in REFUSED_CORRELATIONS.items()
        }
        consistent = client.post(
            PATH,
            json={"signals": SIGNALS, "risk_model": {"vols": VOLS, "correlations": [
                pair("BTCUSDT", "ETHUSDT", 0.5), pair("ETHUSDT", "BNBUSDT", 0.5)]}},
        )  # fmt: skip
        legacy = client.post(
            PATH,
            json={"allocator": "legacy", "signals": SIGNALS,
                  "risk_model": {"vols": VOLS, "correlations": []}},
        )  # fmt: skip
    # Legacy sizes without a risk model: the answer must not say it used the one sent.
    assert legacy.status_code == 200
    assert (legacy.json()["allocator_used"], legacy.json()["risk_model_source"]) == (
        "legacy",
        "none",
    )
    for case, (_, problem) in REFUSED_CORRELATIONS.items():
        answer = answers[case]
        assert answer.status_code == 422, (case, answer.text)
        error = answer.json()["error"]
        assert error["field"] == "body.risk_model.correlations", case
        assert problem in error["message"], (case, error["message"])
    assert consistent.status_code == 200
    body = consistent.json()
    assert body["allocator_used"] == "allocator_v2" and body["fallback_reason"] is None


def test_a_fallback_for_want_of_lake_data_names_the_symbol(serve: Callable[..., Server]) -> None:
    server = serve()
    signals = [
        {"symbol": "BTCUSDT", "target_exposure": 1.0, "expected_return": 0.01},
        {"symbol": "DOGEUSDT", "target_exposure": 1.0, "expected_return": 0.01},
    ]
    with server.client() as client:
        answer = client.post(PATH, json={"allocator": "allocator_v2", "signals": signals})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["requested"], body["allocator_used"]) == ("allocator_v2", "legacy")
    assert body["risk_model_source"] == "none"
    reason = body["fallback_reason"]
    assert "no bars_1h bars for DOGEUSDT" in reason and "BTCUSDT" not in reason, reason
    assert "risk_lookback_days" in reason
    assert body["target_weights"]["DOGEUSDT"] == pytest.approx(0.25, abs=1e-9)
