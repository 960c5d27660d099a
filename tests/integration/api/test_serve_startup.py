"""`quantgate serve` refuses to start — exit 2, a message naming the problem — when a model is
missing, altered on disk, or trained on another feature contract."""

from __future__ import annotations

import json
import os
import subprocess

from served_api import QUANTGATE, ServedHome, free_port


def serve_once(home: ServedHome, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, "serve", "--port", str(free_port()), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QG_HOME": str(home.home), "COLUMNS": "300"},
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_tampered_artifact_stops_start_up(served_home: ServedHome) -> None:
    objects = sorted((served_home.home / "registry").rglob("*"))
    graph = next(p for p in objects if p.is_file() and p.stat().st_size > 10_000)
    payload = bytearray(graph.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    graph.write_bytes(bytes(payload))

    result = serve_once(served_home, "--embedder", "hashing")

    assert result.returncode == 2, result.stderr
    message = flat(result.stderr)
    assert "cannot start" in message
    assert "sha256" in message and graph.name[:12] in message.replace("…", "")


def test_a_feature_contract_mismatch_stops_start_up(served_home: ServedHome) -> None:
    # The models were trained on the hashing-embedder contract; MiniLM is another contract.
    result = serve_once(served_home, "--embedder", "minilm")

    assert result.returncode == 2, result.stderr
    message = flat(result.stderr)
    assert "feature contract" in message and "differs from the runtime" in message


def test_a_configured_symbol_without_an_active_model_stops_start_up(
    served_home: ServedHome,
) -> None:
    result = serve_once(served_home, "--embedder", "hashing", "--symbols", "BTCUSDT,SOLUSDT")

    assert result.returncode == 2, result.stderr
    message = flat(result.stderr)
    for horizon in ("1h", "4h", "1d", "7d"):
        assert f"SOLUSDT {horizon}: no active model" in message


def test_the_contract_hash_in_the_message_is_the_store_one(served_home: ServedHome) -> None:
    record = json.loads(
        subprocess.run(
            [*QUANTGATE, "features", "contract", "--json", "--embedder", "hashing"],
            capture_output=True,
            text=True,
            env={**os.environ, "QG_HOME": str(served_home.home)},
            check=True,
        ).stdout
    )
    result = serve_once(served_home, "--embedder", "minilm")
    assert record["contract_hash"][:12] in result.stderr
