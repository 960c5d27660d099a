"""Benchmark: the full predict path (feature-row lookup + four horizons through ONNX Runtime)
against a bare FastAPI JSON endpoint, both served by uvicorn in this run, load sent from a
second process over loopback.

Two measurements per server:
- fixed rate (default 200 requests/s for 15 s, open loop: latency counts from the moment a
  request was due, so a stalled server cannot hide its queue) → p50 / p99 / max;
- throughput: 8 concurrent keep-alive connections as fast as they go for 10 s → requests/s.

Targets (issue #6): predict p99 <= 10 ms at 200 rps; predict throughput >= 50 % of bare.
Prints figures and ratios; asserts nothing on time.

    python benchmarks/bench_api.py                # builds a small served home in a temp dir
    python benchmarks/bench_api.py --home var     # uses an existing one (e.g. after make demo)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

QUANTGATE = [sys.executable, "-m", "quantgate.cli.app"]
SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT"
BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/bare")
def bare() -> dict[str, object]:
    return {"symbol": "BTCUSDT", "expected_return": {"1h": 0.001, "4h": 0.002, "1d": 0.003,
            "7d": 0.004}, "ok": True}
"""


def cli(home: Path, *args: str) -> None:
    result = subprocess.run(
        [*QUANTGATE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "QG_HOME": str(home)},
    )
    if result.returncode != 0:
        raise SystemExit(f"quantgate {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def build_home(home: Path) -> None:
    print(f"building a served home in {home} (synthetic market, 4 symbols, ~75 days)…")
    cli(home, "data", "generate", "--symbols", SYMBOLS, "--start", "2025-01-01",
        "--end", "2025-03-20T00:00:00Z", "--seed", "3")  # fmt: skip
    cli(home, "features", "build", "--embedder", "hashing")
    cli(home, "ml", "train", "--horizons", "1h,4h,1d,7d", "--folds", "2", "--rounds", "40",
        "--workers", "1", "--embedder", "hashing")  # fmt: skip
    cli(home, "registry", "register-candidate", "--run", "latest")
    cli(home, "registry", "promote", "--all", "--force", "--reason", "benchmark")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in 120 s")


async def _fixed_rate(url: str, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await client.get(url)  # warm the connection and the model path
        start = time.perf_counter()
        total = int(rate * seconds)

        async def one(due: float) -> None:
            response = await client.get(url)
            response.raise_for_status()
            latencies.append(time.perf_counter() - due)

        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    return latencies


async def _throughput(url: str, connections: int, seconds: float) -> int:
    done = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                response = await client.get(url)
                response.raise_for_status()
                done += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return done


def load_process(url: str, rate: float, seconds: float, queue: Any) -> None:
    """Runs in a second process: the load never shares an interpreter with the server."""
    latencies = asyncio.run(_fixed_rate(url, rate, seconds))
    throughput_seconds = 10.0
    count = asyncio.run(_throughput(url, 8, throughput_seconds))
    queue.put({"latencies": latencies, "throughput_rps": count / throughput_seconds})


def measure(url: str, rate: float, seconds: float) -> dict[str, float]:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=load_process, args=(url, rate, seconds, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    latencies = np.asarray(result["latencies"]) * 1000
    return {
        "sent_rps": len(latencies) / seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(latencies.max()),
        "throughput_rps": float(result["throughput_rps"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="an existing served data home")
    parser.add_argument("--embedder", default="hashing", help="the home's feature embedder")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="qg-bench-api-")
    home = args.home.resolve() if args.home else Path(scratch.name) / "var"
    if args.home is None:
        build_home(home)
    env = {**os.environ, "QG_HOME": str(home)}

    predict_port, bare_port = free_port(), free_port()
    predict_server = subprocess.Popen(
        [*QUANTGATE, "serve", "--port", str(predict_port), "--embedder", args.embedder],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare_dir = Path(scratch.name)
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    bare_server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=bare_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{predict_port}/healthz", predict_server)
        wait_ready(f"http://127.0.0.1:{bare_port}/bare", bare_server)
        symbol = httpx.get(f"http://127.0.0.1:{predict_port}/api/v2/monitor/model-status").json()[
            "models"
        ][0]["symbol"]
        predict_url = f"http://127.0.0.1:{predict_port}/api/v2/predict/liquid?symbol={symbol}"
        sample = httpx.get(predict_url).json()["predictions"][0]
        assert set(sample["expected_return"]) == {"1h", "4h", "1d", "7d"}
        results = {
            "predict": measure(predict_url, args.rate, args.seconds),
            "bare": measure(f"http://127.0.0.1:{bare_port}/bare", args.rate, args.seconds),
        }
    finally:
        for server in (predict_server, bare_server):
            server.terminate()
            server.wait(timeout=15)
        scratch.cleanup()

    print(
        f"\nload from a second process over loopback; {args.rate:.0f} rps for {args.seconds:.0f} s"
    )
    print(
        f"{'endpoint':<10}{'sent rps':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'max rps':>10}"
    )
    for name, r in results.items():
        print(
            f"{name:<10}{r['sent_rps']:>10.1f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['max_ms']:>10.2f}{r['throughput_rps']:>10.0f}"
        )
    ratio = results["predict"]["throughput_rps"] / results["bare"]["throughput_rps"]
    p99 = results["predict"]["p99_ms"]
    print(f"\npredict p99 at {args.rate:.0f} rps: {p99:.2f} ms (target <= 10)")
    print(f"predict throughput / bare: {ratio:.1%} (target >= 50 %)")
    print(json.dumps({"results": results, "throughput_ratio": ratio}))


if __name__ == "__main__":
    main()
