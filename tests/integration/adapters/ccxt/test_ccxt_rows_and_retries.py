"""The pieces without a server: row checks, the retry policy, Retry-After, the raw-row recorder."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import ccxt
import pytest

from quantgate.adapters.ccxt import CcxtBackfillConfig
from quantgate.adapters.ccxt.exchange import RawRowRecorder, RetryPolicy, retry_after_seconds
from quantgate.adapters.ccxt.rows import row_problem, sort_page
from quantgate.core.errors import ConfigurationError, TemporaryError

HOUR_MS = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
NOW = T0 + 100 * HOUR_MS


def problem(row: Any) -> str | None:
    return row_problem(row, since_ms=T0, timeframe_ms=HOUR_MS, now_ms=NOW)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([T0, 1.0, 2.0, 0.5, 1.5], "wrong arity: 5 fields"),
        ("garbage", "wrong arity: str"),
        ([None, 1.0, 2.0, 0.5, 1.5, 1.0], "timestamp missing"),
        ([True, 1.0, 2.0, 0.5, 1.5, 1.0], "timestamp missing"),
        ([T0 + 1, 1.0, 2.0, 0.5, 1.5, 1.0], "off the 3600s grid"),
        ([T0 - HOUR_MS, 1.0, 2.0, 0.5, 1.5, 1.0], "before the requested start"),
        ([NOW + 2 * HOUR_MS, 1.0, 2.0, 0.5, 1.5, 1.0], "in the future"),
        ([T0, 1.0, None, 0.5, 1.5, 1.0], "high is missing"),
        ([T0, "1.0", 2.0, 0.5, 1.5, 1.0], "open is not a number"),
        ([T0, 1.0, float("inf"), 0.5, 1.5, 1.0], "high is not finite"),
        ([T0, 1.0, 2.0, -0.5, 1.5, 1.0], "low is not positive"),
        ([T0, 1.0, 2.0, 0.5, 1.5, -1.0], "volume is negative"),
        ([T0, 1.0, 1.2, 0.5, 1.5, 1.0], "high is below"),
        ([T0, 1.0, 2.0, 1.2, 1.5, 1.0], "low is above"),
    ],
)
def test_malformed_rows_name_their_problem(row: Any, reason: str) -> None:
    found = problem(row)
    assert found is not None
    assert found.startswith(reason) or reason in found


def test_well_formed_rows_pass() -> None:
    assert problem([T0, 1.0, 2.0, 0.5, 1.5, 0.0]) is None
    assert problem([T0 + HOUR_MS, 1, 2, 1, 2, 3]) is None  # ints are numbers too


def test_sort_page_withholds_open_bars_and_rejects_repeats() -> None:
    rows = [
        ([T0, 1, 2, 0.5, 1.5, 1], [T0, 1.0, 2.0, 0.5, 1.5, 1.0]),
        ("dup", [T0, 1.0, 2.0, 0.5, 1.5, 2.0]),
        ("open", [NOW - HOUR_MS, 1.0, 2.0, 0.5, 1.5, 1.0]),  # closes 1 ms after "now"
        ("beyond", [NOW, 1.0, 2.0, 0.5, 1.5, 1.0]),
    ]
    seen: set[int] = set()
    page = sort_page(
        "BTCUSDT",
        rows,
        since_ms=T0,
        end_ms=NOW,
        timeframe_ms=HOUR_MS,
        now_ms=NOW - 1,
        seen_ts=seen,
    )
    assert [candle.ts_ms for candle in page.accepted] == [T0]
    assert [(r.raw, r.reason) for r in page.rejected] == [("dup", f"timestamp {T0} repeats")]
    assert (page.open_bars, page.beyond_end, page.max_ts_ms) == (1, 1, NOW)
    assert seen == {T0}


def test_a_garbage_future_timestamp_does_not_move_paging() -> None:
    far = NOW + 10_000 * HOUR_MS
    page = sort_page(
        "BTCUSDT",
        [("x", [T0, 1.0, 2.0, 0.5, 1.5, 1.0]), ("y", [far, 1.0, 2.0, 0.5, 1.5, 1.0])],
        since_ms=T0,
        end_ms=far * 2,
        timeframe_ms=HOUR_MS,
        now_ms=NOW,
        seen_ts=set(),
    )
    assert page.max_ts_ms == T0
    assert [r.raw for r in page.rejected] == ["y"]


class _Exchange:
    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.last_response_headers = headers or {}

    def parse_ohlcv(self, ohlcv: Any, market: Any = None) -> list[Any]:
        if ohlcv == "boom":
            raise TypeError("cannot parse")
        return list(ohlcv)


def _policy(**values: Any) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    config = CcxtBackfillConfig(
        backoff_base_s=1.0, backoff_cap_s=8.0, jitter=0.5, max_retries=3, **values
    )
    return RetryPolicy(config, sleep=slept.append, rng=random.Random(7)), slept


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    policy, _ = _policy()
    for attempt, ceiling in enumerate([1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert policy.delay(0, retry_after=5.0) == 5.0


def test_retries_then_raises_temporary_error() -> None:
    policy, slept = _policy()
    calls = []

    class Counter:
        requests = 0
        retries = 0

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ccxt.RequestTimeout("binance GET /klines")
        return "ok"

    counter = Counter()
    assert policy.call(_Exchange(), "klines", flaky, counter=counter) == "ok"
    assert (counter.requests, counter.retries, len(slept)) == (3, 2, 2)

    def down() -> None:
        raise ccxt.ExchangeNotAvailable("503")

    with pytest.raises(TemporaryError, match="failed 4 times"):
        policy.call(_Exchange(), "klines", down)


def test_a_refused_request_is_not_retried() -> None:
    policy, slept = _policy()

    def bad_symbol() -> None:
        raise ccxt.BadSymbol("binance does not have market symbol NOPE/USDT")

    with pytest.raises(ConfigurationError, match="refused klines"):
        policy.call(_Exchange(), "klines", bad_symbol)
    assert slept == []


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds(_Exchange({"Retry-After": "7"})) == 7.0
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    dated = _Exchange({"Retry-After": "Mon, 01 Jan 2024 12:00:30 GMT"})
    assert retry_after_seconds(dated, now=now) == 30.0
    assert retry_after_seconds(_Exchange({"Retry-After": "soon"})) is None
    assert retry_after_seconds(_Exchange()) is None


def test_recorder_keeps_raw_rows_and_survives_a_row_ccxt_cannot_parse() -> None:
    exchange = _Exchange()
    recorder = RawRowRecorder(exchange)

    parsed = [exchange.parse_ohlcv(raw) for raw in ([1, 2, 3, 4, 5, 6], "boom")]

    assert parsed[0] == [1, 2, 3, 4, 5, 6]
    assert parsed[1] == [None] * 6
    assert [raw for raw, _ in recorder.pairs] == [[1, 2, 3, 4, 5, 6], "boom"]
    assert recorder.parse_errors == {id(parsed[1]): "ccxt could not parse the row (cannot parse)"}
    recorder.reset()
    assert (recorder.pairs, recorder.parse_errors) == ([], {})
