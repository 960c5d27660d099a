"""Registry moves through the API (and from another process) reach the running server
without a restart and without failing requests in flight; the shadow version is scored
and logged but never returned."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable

import httpx
from served_api import OPERATOR, ServedHome, Server, cli, ok


def versions_of(client: httpx.Client, symbol: str = "BTCUSDT") -> dict[str, str]:
    response = client.get("/api/v2/predict/liquid", params={"symbol": symbol})
    assert response.status_code == 200, response.text
    return dict(response.json()["predictions"][0]["model_version"])


def test_activate_and_rollback_reach_the_next_request(
    served_home: ServedHome, serve: Callable[..., Server]
) -> None:
    server = serve()
    with server.client(OPERATOR) as client:
        first = versions_of(client)["1h"]
        registered = client.post(
            "/api/v2/models/liquid/registry/candidate",
            json={"run_id": served_home.second_run, "symbol": "BTCUSDT", "horizon": "1h"},
        )
        assert registered.status_code == 200, registered.text
        (entry,) = registered.json()["registered"]
        second = entry["version_id"]
        assert entry["created"] and second != first

        failures: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as reader:
                while not stop.is_set():
                    answer = reader.get("/api/v2/predict/liquid", params={"symbol": "BTCUSDT"})
                    if answer.status_code != 200:
                        failures.append(answer.text)

        readers = [threading.Thread(target=hammer) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            activated = client.post(
                "/api/v2/models/liquid/registry/activate",
                json={"version_id": second, "force": True, "reason": "test: new seed"},
            )
            assert activated.status_code == 200, activated.text
            assert activated.json()["to_version"] == second and activated.json()["forced"]
            assert versions_of(client)["1h"] == second
            assert versions_of(client)["4h"] != second  # only 1h moved

            rolled = client.post(
                "/api/v2/models/liquid/registry/rollback",
                json={"symbol": "BTCUSDT", "horizon": "1h", "reason": "test: back"},
            )
            assert rolled.status_code == 200, rolled.text
            assert versions_of(client)["1h"] == first
            for _ in range(3):  # flip a few times under load
                client.post(
                    "/api/v2/models/liquid/registry/activate",
                    json={"version_id": second, "force": True, "reason": "flip"},
                )
                client.post(
                    "/api/v2/models/liquid/registry/rollback",
                    json={"symbol": "BTCUSDT", "horizon": "1h", "reason": "flop"},
                )
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert failures == []

        registry = client.get("/api/v2/models/liquid/registry", params={"symbol": "BTCUSDT"})
        aliases = {(a["horizon"], a["alias"]): a["version_id"] for a in registry.json()["aliases"]}
        assert aliases[("1h", "active")] == first

    # A move made by another process (the CLI) is picked up by the background refresh.
    ok(cli(served_home.home, "registry", "activate", second, "--force", "--reason", "cli"))
    deadline = time.monotonic() + 10
    with server.client() as client:
        while versions_of(client)["1h"] != second:
            assert time.monotonic() < deadline, "the CLI activation never reached the server"
            time.sleep(0.1)

    audit = sqlite3.connect(served_home.home / "quantgate.db").execute(
        "SELECT actor, action, forced FROM registry_audit WHERE symbol='BTCUSDT' AND horizon='1h'"
        " ORDER BY id"
    )
    rows = audit.fetchall()
    assert ("api:operator", "activate", 1) in rows
    assert ("api:operator", "rollback", 0) in rows


def test_promotion_through_the_api_reports_every_rule(
    served_home: ServedHome, serve: Callable[..., Server]
) -> None:
    server = serve()
    with server.client(OPERATOR) as client:
        client.post(
            "/api/v2/models/liquid/registry/candidate",
            json={"run_id": served_home.second_run, "symbol": "ETHUSDT", "horizon": "4h"},
        )
        refused = client.post(
            "/api/v2/models/liquid/registry/promote-candidate",
            json={"symbol": "ETHUSDT", "horizon": "4h"},
        )
        no_reason = client.post(
            "/api/v2/models/liquid/registry/promote-candidate",
            json={"symbol": "ETHUSDT", "horizon": "4h", "force": True},
        )
        forced = client.post(
            "/api/v2/models/liquid/registry/promote-candidate",
            json={"symbol": "ETHUSDT", "horizon": "4h", "force": True, "reason": "synthetic"},
        )
        served = versions_of(client, "ETHUSDT")["4h"]
    # The synthetic market cannot meet the live-money rules, so the plain promotion is refused.
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rules_not_met"
    checks = refused.json()["error"]["detail"]["checks"]
    assert {c["rule"] for c in checks} >= {"net_sharpe", "max_drawdown", "deflated_sharpe", "pbo"}
    assert no_reason.status_code == 409
    assert forced.status_code == 200 and forced.json()["forced"]
    assert served == forced.json()["to_version"]


def test_the_shadow_is_logged_and_never_returned(
    served_home: ServedHome, serve: Callable[..., Server]
) -> None:
    run = served_home.second_run
    register = ["registry", "register-candidate", "--run", run, "--symbol", "BTCUSDT"]
    result = ok(cli(served_home.home, *register, "--horizon", "1d", "--json"))
    shadow = result["registered"][0]["to_version"]
    ok(cli(served_home.home, "registry", "set-shadow", shadow, "--reason", "trial"))
    server = serve()
    asofs = [f"2025-02-{day:02d}T{hour:02d}:30:00Z" for day in range(1, 21) for hour in (3, 15)]
    with server.client() as client:
        for asof in asofs:
            answer = client.get(
                "/api/v2/predict/liquid", params={"symbol": "BTCUSDT", "asof": asof}
            ).json()["predictions"][0]
            assert shadow not in json.dumps(answer)
        status = client.get("/api/v2/monitor/model-status").json()
    assert {m["shadow_version"] for m in status["models"] if m["horizon"] == "1d"} >= {shadow}

    deadline = time.monotonic() + 10
    db = sqlite3.connect(served_home.home / "quantgate.db")
    while db.execute("SELECT count(*) FROM shadow_predictions").fetchone()[0] < len(asofs):
        assert time.monotonic() < deadline, "shadow rows were not written"
        time.sleep(0.1)
    rows = db.execute(
        "SELECT horizon, shadow_version_id, active_version_id FROM shadow_predictions"
    ).fetchall()
    assert {r[0] for r in rows} == {"1d"} and {r[1] for r in rows} == {shadow}
    assert len({r[2] for r in rows}) == 1 and shadow not in {r[2] for r in rows}
    logged = [
        json.loads(line)
        for path in (served_home.home / "shadow").glob("shadow-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert len(logged) == len(asofs) and {r["shadow_version_id"] for r in logged} == {shadow}

    report = ok(cli(served_home.home, "registry", "shadow-report", "--json"))
    (pair,) = report["pairs"]
    assert pair["symbol"] == "BTCUSDT" and pair["horizon"] == "1d"
    assert pair["n_scored"] == len(asofs) and pair["n_realised"] == len(asofs)
    for side in ("active", "shadow"):
        assert -1 <= pair[side]["ic"] <= 1 and 0 <= pair[side]["ece"] <= 1
    assert 0 <= pair["agreement"]["direction"] <= 1
    assert pair["ic_difference"] == pair["shadow"]["ic"] - pair["active"]["ic"]
