"""A local HTTP server speaking enough of Binance's spot REST API for ccxt.binance.

It serves a deterministic candle series per symbol with a planted hole (hours
the "exchange" does not have), logs every request, and can be scripted to
answer klines requests with 429s, hangs, empty pages, malformed rows or a
lasting outage.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from quantgate.adapters.ccxt import CcxtBackfillConfig, CcxtMarketSource

HOUR_MS = 3_600_000
INTERVALS_MS = {"1m": 60_000, "5m": 300_000, "1h": HOUR_MS, "1d": 24 * HOUR_MS}
BASE_PRICE = {"BTCUSDT": 40_000.0, "ETHUSDT": 2_000.0}
ASSETS = {"BTCUSDT": ("BTC", "USDT"), "ETHUSDT": ("ETH", "USDT")}


SourceFactory = Callable[..., CcxtMarketSource]


@dataclass(frozen=True)
class Action:
    """What the server does with one klines request (consumed in order from the script)."""

    kind: str  # "ok" | "status" | "hang" | "empty"
    status: int = 200
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def too_many_requests(retry_after: float | None = None) -> Action:
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    body = {"code": -1003, "msg": "Too much request weight used; current limit is 6000."}
    return Action("status", status=429, headers=headers, body=body)


def unavailable() -> Action:
    return Action("status", status=503, body="Service Unavailable")


def hang(seconds: float) -> Action:
    return Action("hang", seconds=seconds)


def empty() -> Action:
    return Action("empty")


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    status: int


class FakeBinance:
    def __init__(
        self,
        start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
        hours: int = 250,
        hole: range = range(120, 130),
    ) -> None:
        self.start_ms = int(start.timestamp() * 1000)
        self.hours = hours
        self.hole = hole
        self.script: deque[Action] = deque()
        # From this klines request number on (1-based), answer 503 until set back to None.
        self.fail_from_request: int | None = None
        # (symbol, open time ms) -> raw row served instead of the real one.
        self.replacements: dict[tuple[str, int], Any] = {}
        self.log: list[LoggedRequest] = []
        # The exchange's clock in ms: it never serves a candle that has not opened yet.
        self.now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
        self._klines_seen = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeBinance:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def source_config(self, **overrides: Any) -> CcxtBackfillConfig:
        """A ccxt.binance config aimed at this server, with backoff short enough for tests."""
        values: dict[str, Any] = {
            "exchange": "binance",
            "symbols": ("BTCUSDT", "ETHUSDT"),
            "urls": {"public": f"{self.url}/api/v3"},
            "page_limit": 100,
            "max_retries": 3,
            "backoff_base_s": 0.01,
            "backoff_cap_s": 0.05,
            "timeout_ms": 5_000,
            "rate_limit_ms": 1,
        }
        values.update(overrides)
        return CcxtBackfillConfig(**values)

    # --- the series --------------------------------------------------------------------

    def has_hour(self, index: int) -> bool:
        return 0 <= index < self.hours and index not in self.hole

    def ts(self, index: int) -> int:
        return self.start_ms + index * HOUR_MS

    def hourly_ts(self) -> list[int]:
        """Open times of every hourly bar the exchange has, in order."""
        return [self.ts(i) for i in range(self.hours) if self.has_hour(i)]

    def candle(self, symbol: str, ts: int, interval_ms: int) -> list[Any]:
        """A 12-field Binance kline, a deterministic function of (symbol, open time)."""
        k = (ts - self.start_ms) // interval_ms
        base = BASE_PRICE[symbol]
        open_ = round(base * (1 + 0.02 * math.sin(k / 7)) + 0.5 * k, 2)
        close = round(base * (1 + 0.02 * math.sin((k + 1) / 7)) + 0.5 * (k + 1), 2)
        high = round(max(open_, close) + 1.25 + (k % 5) * 0.1, 2)
        low = round(min(open_, close) - 1.25 - (k % 3) * 0.1, 2)
        volume = round(10 + (k % 13) * 0.5, 8)
        return [
            ts,
            f"{open_:.8f}",
            f"{high:.8f}",
            f"{low:.8f}",
            f"{close:.8f}",
            f"{volume:.8f}",
            ts + interval_ms - 1,
            f"{volume * close:.8f}",
            100 + k % 50,
            f"{volume / 2:.8f}",
            f"{volume * close / 2:.8f}",
            "0",
        ]

    def expected(self, symbol: str) -> list[tuple[int, float, float, float, float, float]]:
        """(ts, open, high, low, close, volume) of every hourly bar, as ccxt would parse them."""
        rows = []
        for ts in self.hourly_ts():
            kline = self.candle(symbol, ts, HOUR_MS)
            rows.append((ts, *(float(value) for value in kline[1:6])))
        return rows

    def _exists(self, ts: int) -> bool:
        if not self.start_ms <= ts < self.start_ms + self.hours * HOUR_MS:
            return False
        return (ts - self.start_ms) // HOUR_MS not in self.hole

    def klines(
        self, symbol: str, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[Any]:
        last = self.start_ms + self.hours * HOUR_MS - interval_ms
        last = min(last, self.now_ms())
        if end is not None:
            last = min(last, end - (end - self.start_ms) % interval_ms)
        if start is None:  # Binance answers with the latest candles
            first = max(self.start_ms, last - (limit - 1) * interval_ms)
        else:
            first = self.start_ms + max(0, -(-(start - self.start_ms) // interval_ms)) * interval_ms
        rows = []
        ts = first
        while ts <= last and len(rows) < limit:
            if self._exists(ts):
                replacement = self.replacements.get((symbol, ts))
                rows.append(
                    replacement if replacement is not None else self.candle(symbol, ts, interval_ms)
                )
            ts += interval_ms
        return rows

    # --- request log -------------------------------------------------------------------

    def requests(self, path: str = "/api/v3/klines") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def _next_action(self) -> Action:
        with self._lock:
            self._klines_seen += 1
            failing = self.fail_from_request is not None
            if failing and self._klines_seen >= self.fail_from_request:
                return unavailable()
            return self.script.popleft() if self.script else Action("ok")

    def _record(self, path: str, params: dict[str, str], at: float, status: int) -> None:
        with self._lock:
            self.log.append(LoggedRequest(path, params, at, status))
            self.log.sort(key=lambda request: request.at)

    def exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                }
            ],
            "exchangeFilters": [],
            "symbols": [_market(symbol, *assets) for symbol, assets in ASSETS.items()],
        }


def _market(symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "maxNotional": "9000000"},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeBinance

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out closes its socket under a hanging handler; that is the test.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._arrived = time.monotonic()
        fake = self.server.fake
        parts = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/api/v3/ping":
            self._reply(path, params, 200, {})
        elif path == "/api/v3/time":
            self._reply(path, params, 200, {"serverTime": int(time.time() * 1000)})
        elif path == "/api/v3/exchangeInfo":
            self._reply(path, params, 200, fake.exchange_info())
        elif path == "/api/v3/klines":
            self._klines(fake, path, params)
        else:
            self._reply(path, params, 404, {"code": -1, "msg": f"unknown path {path}"})

    def _klines(self, fake: FakeBinance, path: str, params: dict[str, str]) -> None:
        symbol = params.get("symbol", "")
        interval_ms = INTERVALS_MS.get(params.get("interval", ""))
        if symbol not in ASSETS:
            self._reply(path, params, 400, {"code": -1121, "msg": "Invalid symbol."})
            return
        if interval_ms is None:
            self._reply(path, params, 400, {"code": -1120, "msg": "Invalid interval."})
            return
        action = fake._next_action()
        if action.kind == "status":
            self._reply(path, params, action.status, action.body, action.headers)
            return
        if action.kind == "hang":
            # Answer only after the client has given up (cut short when the server stops).
            fake._stop.wait(action.seconds)
        if action.kind == "empty":
            self._reply(path, params, 200, [])
            return
        limit = min(int(params.get("limit", 500)), 1000)
        start = int(params["startTime"]) if "startTime" in params else None
        end = int(params["endTime"]) if "endTime" in params else None
        self._reply(path, params, 200, fake.klines(symbol, interval_ms, start, end, limit))

    def _reply(
        self,
        path: str,
        params: dict[str, str],
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.server.fake._record(path, params, self._arrived, status)
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            self.send_response(status)
            content_type = "text/plain" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
