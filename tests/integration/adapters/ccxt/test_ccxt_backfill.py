"""The resumable backfill against a fake Binance over real HTTP, through the real ccxt.binance."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from fake_binance import (
    HOUR_MS,
    Action,
    FakeBinance,
    SourceFactory,
    empty,
    hang,
    too_many_requests,
)

from quantgate.adapters.ccxt import backfill
from quantgate.core.clock import SimulatedClock
from quantgate.core.errors import TemporaryError
from quantgate.data.schema import BAR_SCHEMA
from quantgate.storage.lake import Lake

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def stored(lake: Lake, symbol: str) -> list[tuple[int, float, float, float, float, float]]:
    frame = lake.read("bars_1h", [symbol]).sort("ts")
    frame = frame.select(pl.col("ts").dt.epoch("ms"), "open", "high", "low", "close", "volume")
    return [tuple(row) for row in frame.iter_rows()]


def klines_starts(server: FakeBinance) -> list[int]:
    return [int(request.params["startTime"]) for request in server.requests()]


def test_full_backfill_matches_the_exchange_series_and_keeps_its_hole(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    source = make_source()
    results = backfill(lake, source, ["BTCUSDT", "ETHUSDT"], since=START)

    for symbol in ("BTCUSDT", "ETHUSDT"):
        expected = fake_binance.expected(symbol)
        assert len(expected) == 240  # 250 hours minus the 10-hour hole
        assert stored(lake, symbol) == expected
        result = results[symbol]
        assert (result.fetched, result.inserted, result.rejected) == (240, 240, ())
        assert result.resumed_from is None
        # Three pages of data (100, 100 across the hole, 40), then the empty page that ends it.
        assert (result.pages, result.requests, result.retries) == (4, 4, 0)
        assert result.stop_reason == "empty_page"

    stored_ts = set(lake.read("bars_1h", ["BTCUSDT"])["ts"].dt.epoch("ms").to_list())
    assert not stored_ts & {fake_binance.ts(i) for i in fake_binance.hole}
    # Each page starts one period after the last bar of the previous one.
    assert klines_starts(fake_binance)[:4] == [fake_binance.ts(h) for h in (0, 100, 210, 250)]

    frame = lake.read("bars_1h", ["BTCUSDT"])
    assert dict(frame.schema) == BAR_SCHEMA
    assert frame["source"].unique().to_list() == ["ccxt:binance"]
    latency = HOUR + timedelta(seconds=5)
    assert (frame["available_at"] - frame["ts"] == latency).all()


def test_second_run_fetches_nothing_new(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    source = make_source()
    backfill(lake, source, ["BTCUSDT", "ETHUSDT"], since=START)
    manifest = lake.manifest("bars_1h")
    before = len(fake_binance.requests())

    again = backfill(lake, make_source(), ["BTCUSDT", "ETHUSDT"], since=START)

    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert again[symbol].resumed_from == START + 250 * HOUR
        assert (again[symbol].fetched, again[symbol].inserted) == (0, 0)
        assert again[symbol].requests <= 1
    assert len(fake_binance.requests()) - before <= 2
    assert lake.manifest("bars_1h") == manifest


def test_caught_up_run_sends_no_request_and_later_runs_take_only_newly_closed_bars(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    clock = SimulatedClock(START + 50 * HOUR + timedelta(minutes=30))
    fake_binance.now_ms = lambda: int(clock.now().timestamp() * 1000)
    source = make_source(clock=clock)

    first = backfill(lake, source, ["BTCUSDT"], since=START)["BTCUSDT"]
    # Bar 50 is still open at 50h30m: it is withheld, never stored half-formed.
    assert (first.fetched, first.stop_reason, first.rejected) == (50, "caught_up", ())
    assert first.requests == 1
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")[:50]

    requests = len(fake_binance.requests())
    idle = backfill(lake, source, ["BTCUSDT"], since=START)["BTCUSDT"]
    assert (idle.requests, idle.fetched) == (0, 0)
    assert len(fake_binance.requests()) == requests

    clock.advance_to(START + 100 * HOUR)
    later = backfill(lake, source, ["BTCUSDT"], since=START)["BTCUSDT"]
    assert later.resumed_from == START + 50 * HOUR
    assert later.inserted == 50
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")[:100]


def test_backfill_survives_rate_limits_timeouts_and_malformed_rows(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    ts = fake_binance.ts
    good = fake_binance.candle
    planted = {
        10: [ts(10), "1.0", "2.0"],  # wrong arity
        20: [*good("BTCUSDT", ts(20), HOUR_MS)[:4], None, *good("BTCUSDT", ts(20), HOUR_MS)[5:]],
        30: [ts(30), "NaN", *good("BTCUSDT", ts(30), HOUR_MS)[2:]],
        40: [*good("BTCUSDT", ts(40), HOUR_MS)[:3], "0", *good("BTCUSDT", ts(40), HOUR_MS)[4:]],
        50: [ts(50) + 30 * 60_000, *good("BTCUSDT", ts(50), HOUR_MS)[1:]],  # off the grid
        60: [None, *good("BTCUSDT", ts(60), HOUR_MS)[1:]],  # ccxt itself drops this one
        70: [ts(70), "100", "90", "110", "100", "1", ts(70) + HOUR_MS - 1, "0", 1, "0", "0", "0"],
        80: [*good("BTCUSDT", ts(80), HOUR_MS)[:5], "-1", *good("BTCUSDT", ts(80), HOUR_MS)[6:]],
        90: "garbage",  # not a row at all
        # A 13th field is harmless: ccxt reads the first six.
        140: [
            ts(140),
            "1.0",
            "2.0",
            "0.5",
            "1.5",
            "1.0",
            ts(140) + HOUR_MS,
            "0",
            1,
            "0",
            "0",
            "0",
            "x",
        ],
    }
    for hour, row in planted.items():
        fake_binance.replacements[("BTCUSDT", ts(hour))] = row
    fake_binance.script.extend([too_many_requests(retry_after=0), hang(5.0)])
    source = make_source(timeout_ms=1_000)

    result = backfill(lake, source, ["BTCUSDT"], since=START)["BTCUSDT"]

    malformed = {10, 20, 30, 40, 50, 60, 70, 80, 90}
    expected = [
        row
        for row in fake_binance.expected("BTCUSDT")
        if (row[0] - fake_binance.start_ms) // HOUR_MS not in malformed | {140}
    ]
    kept_140 = (ts(140), 1.0, 2.0, 0.5, 1.5, 1.0)
    assert stored(lake, "BTCUSDT") == sorted([*expected, kept_140])
    assert result.retries == 2
    assert result.fetched == 240 - len(malformed)
    reasons = {_hour_of(fake_binance, row.raw): row.reason for row in result.rejected}
    assert set(reasons) == malformed
    assert reasons[10].startswith("low is missing")  # ccxt pads a short row with nulls
    assert reasons[20].startswith("close is missing")
    assert reasons[30].startswith("open is not finite")
    assert reasons[40].startswith("low is not positive")
    assert "off the 3600s grid" in reasons[50]
    assert reasons[60].startswith("timestamp missing")
    assert reasons[70].startswith("high is below")
    assert reasons[80].startswith("volume is negative")
    assert reasons[90].startswith("timestamp missing")
    assert all(row.raw == planted[_hour_of(fake_binance, row.raw)] for row in result.rejected)

    statuses = [request.status for request in fake_binance.requests()]
    assert statuses[0] == 429


def _hour_of(server: FakeBinance, raw: object) -> int:
    for (_, ts), row in server.replacements.items():
        if row == raw:
            return (ts - server.start_ms) // HOUR_MS
    raise AssertionError(f"{raw!r} was not planted")


def test_retry_after_is_waited_out(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    fake_binance.script.append(too_many_requests(retry_after=1))
    source = make_source()

    result = backfill(lake, source, ["BTCUSDT"], since=START)["BTCUSDT"]

    first, second = fake_binance.requests()[:2]
    assert first.status == 429
    assert second.at - first.at >= 0.95  # the backoff alone would be at most 0.05 s
    assert result.retries == 1
    assert result.inserted == 240


def test_a_retry_after_beyond_the_limit_fails_at_once(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    fake_binance.script.append(too_many_requests(retry_after=3600))
    source = make_source(retry_after_max_s=10)

    with pytest.raises(TemporaryError, match="asks to wait 3600s"):
        backfill(lake, source, ["BTCUSDT"], since=START)
    assert len(fake_binance.requests()) == 1


def test_interrupted_by_an_outage_keeps_written_pages_and_resumes_without_duplicates(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    fake_binance.fail_from_request = 3
    source = make_source(max_retries=2)

    with pytest.raises(TemporaryError, match="failed 3 times"):
        backfill(lake, source, ["BTCUSDT"], since=START)

    # Pages one and two were stored; the third was tried once plus two retries.
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")[:200]
    assert [r.status for r in fake_binance.requests()] == [200, 200, 503, 503, 503]

    fake_binance.fail_from_request = None
    again = backfill(lake, make_source(), ["BTCUSDT"], since=START)["BTCUSDT"]

    assert again.resumed_from == START + 210 * HOUR
    assert (again.fetched, again.inserted, again.requests) == (40, 40, 2)
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")
    assert lake.read("bars_1h", ["BTCUSDT"])["ts"].is_unique().all()


def test_interrupted_by_the_caller_loses_at_most_the_page_in_flight(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    calls: list[tuple[str, int, int]] = []

    def progress(symbol: str, done: int, total: int) -> None:
        calls.append((symbol, done, total))
        if len(calls) == 3:  # start, page one, page two: stop like Ctrl-C would
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill(lake, make_source(), ["BTCUSDT"], since=START, progress=progress)
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")[:200]

    backfill(lake, make_source(), ["BTCUSDT"], since=START)
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")


def test_an_empty_page_ends_the_run_and_the_next_run_continues(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    fake_binance.script.extend([Action("ok"), empty()])

    first = backfill(lake, make_source(), ["BTCUSDT"], since=START)["BTCUSDT"]
    # An empty answer means "nothing from here on"; it is not retried or skipped over.
    assert (first.fetched, first.stop_reason) == (100, "empty_page")
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")[:100]

    second = backfill(lake, make_source(), ["BTCUSDT"], since=START)["BTCUSDT"]
    assert second.resumed_from == START + 100 * HOUR
    assert second.inserted == 140
    assert stored(lake, "BTCUSDT") == fake_binance.expected("BTCUSDT")


def test_progress_reports_bars_done_out_of_the_range(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    calls: list[tuple[str, int, int]] = []
    until = START + 250 * HOUR
    backfill(
        lake,
        make_source(),
        ["BTCUSDT"],
        since=START,
        until=until,
        progress=lambda *args: calls.append(args),
    )

    assert calls[0] == ("BTCUSDT", 0, 250)
    assert calls[-1] == ("BTCUSDT", 250, 250)
    done = [d for _, d, _ in calls]
    assert done == sorted(done)
    assert done[1:3] == [100, 210]


def test_rate_limit_spaces_requests(
    fake_binance: FakeBinance, make_source: SourceFactory, lake: Lake
) -> None:
    # ccxt prices a spot klines request at 0.4 units of `rateLimit` (Binance weight 2).
    source = make_source(rate_limit_ms=500, page_limit=50)
    backfill(lake, source, ["BTCUSDT"], since=START, until=START + 150 * HOUR)

    arrivals = [request.at for request in fake_binance.requests()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 2
    # 200 ms apart by ccxt's clock; arrival times here carry some scheduling noise.
    assert sum(gaps) >= 0.36
    assert min(gaps) >= 0.12
