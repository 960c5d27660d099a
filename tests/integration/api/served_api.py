"""Helpers of the API tests: the CLI in a subprocess, a real `quantgate serve` (uvicorn) on a
free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
OPERATOR = "operator-token-for-tests-0001"
VIEWER = "viewer-token-for-tests-00002"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
TRAIN = [
    "--horizons", "1h,4h,1d,7d", "--folds", "2", "--rounds", "15",
    "--max-train-rows", "3000", "--workers", "1", "--embedder", "hashing", "--json",
]  # fmt: skip


def cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "QG_HOME": str(home), "COLUMNS": "200", **(env or {})},
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else None


@dataclass(frozen=True)
class ServedHome:
    home: Path
    first_run: str
    second_run: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    home: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(home: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [*QUANTGATE, "serve", "--port", str(port), "--embedder", "hashing", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "QG_HOME": str(home),
            "QG_OPERATOR_TOKEN": OPERATOR,
            "QG_VIEWER_TOKEN": VIEWER,
            "QG_SERVING": json.dumps({"refresh_seconds": 0.2}),
            **(env or {}),
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"server exited {process.returncode}: {stderr[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, process, home)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not answer /healthz within 60 s")


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
