"""CcxtMarketSource against a fake Binance: ranges, closed bars, coverage, symbols, spec, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import structlog
from fake_binance import FakeBinance, SourceFactory

from quantgate.adapters.ccxt import CcxtBackfillConfig, CcxtMarketSource
from quantgate.core.clock import SimulatedClock
from quantgate.core.errors import ConfigurationError, TemporaryError
from quantgate.data.schema import BAR_SCHEMA
from quantgate.data.sources.registry import market_source_from_spec

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_fetch_bars_returns_the_range_in_the_lake_schema(
    fake_binance: FakeBinance, make_source: SourceFactory
) -> None:
    source = make_source()
    before = datetime.now(UTC)
    # A start between grid points begins at the next bar; the end is exclusive.
    frame, stats = source.fetch_bars_with_stats(
        "BTCUSDT", START + 5 * HOUR + timedelta(minutes=30), START + 150 * HOUR
    )
    after = datetime.now(UTC)

    expected = [row for row in fake_binance.expected("BTCUSDT") if row[0] < fake_binance.ts(150)]
    expected = expected[6:]
    assert dict(frame.schema) == BAR_SCHEMA
    assert frame["ts"].dt.epoch("ms").to_list() == [row[0] for row in expected]
    assert frame["close"].to_list() == [row[4] for row in expected]
    assert (frame["available_at"] == frame["ts"] + HOUR + timedelta(seconds=5)).all()
    assert frame["fetched_at"].min() >= before
    assert frame["fetched_at"].max() <= after
    assert frame["symbol"].unique().to_list() == ["BTCUSDT"]
    assert (stats.pages, stats.stop_reason, stats.rejected) == (2, "end", [])
    assert source.last_fetch_stats is stats


@pytest.mark.parametrize(
    ("start_hour", "end_hour", "reason"),
    [
        (121, 128, "end"),  # inside the planted hole: the next page starts after it
        (-24 * 365, -24 * 30, "end"),  # before listing
        (300, 400, "empty_page"),  # after the last bar
    ],
)
def test_a_range_the_exchange_does_not_have_is_an_empty_frame(
    fake_binance: FakeBinance,
    make_source: SourceFactory,
    start_hour: int,
    end_hour: int,
    reason: str,
) -> None:
    source = make_source()
    frame, stats = source.fetch_bars_with_stats(
        "ETHUSDT", START + start_hour * HOUR, START + end_hour * HOUR
    )

    assert frame.is_empty()
    assert dict(frame.schema) == BAR_SCHEMA
    assert (stats.requests, stats.stop_reason) == (1, reason)


def test_only_bars_closed_at_fetch_time_are_returned(
    fake_binance: FakeBinance, make_source: SourceFactory
) -> None:
    now = START + 20 * HOUR + timedelta(minutes=59, seconds=59)
    clock = SimulatedClock(now)
    fake_binance.now_ms = lambda: int(clock.now().timestamp() * 1000)
    source = make_source(clock=clock)

    frame, stats = source.fetch_bars_with_stats("BTCUSDT", START, START + 100 * HOUR)

    assert frame.height == 20  # bar 20 is served but still open: it closes at 21:00
    assert ((frame["ts"] + HOUR) <= now).all()
    assert (stats.requests, stats.stop_reason, stats.open_bars_withheld) == (1, "caught_up", 1)
    assert stats.rejected == []


def test_temporary_failure_is_raised_never_an_empty_answer(
    fake_binance: FakeBinance, make_source: SourceFactory
) -> None:
    fake_binance.fail_from_request = 1
    source = make_source(max_retries=1)

    with pytest.raises(TemporaryError) as raised:
        source.fetch_bars("BTCUSDT", START, START + 10 * HOUR)
    assert raised.value.operator_action == "retry with backoff"
    assert len(fake_binance.requests()) == 2


def test_rejected_rows_are_logged(fake_binance: FakeBinance, make_source: SourceFactory) -> None:
    bad = [fake_binance.ts(3), "1", "2", "3"]
    fake_binance.replacements[("BTCUSDT", fake_binance.ts(3))] = bad
    source = make_source()

    with structlog.testing.capture_logs() as logs:
        frame = source.fetch_bars("BTCUSDT", START, START + 10 * HOUR)

    assert frame.height == 9
    events = [event for event in logs if event["event"] == "ccxt.row_rejected"]
    assert len(events) == 1
    assert events[0]["symbol"] == "BTCUSDT"
    assert events[0]["raw"] == repr(bad)
    assert events[0]["reason"].startswith("close is missing")


def test_coverage_starts_at_the_listing_time(
    fake_binance: FakeBinance, make_source: SourceFactory
) -> None:
    coverage = make_source().coverage("BTCUSDT")
    assert (coverage.start, coverage.end) == (START, None)
    probe = fake_binance.requests()[-1].params
    assert (probe["interval"], probe["startTime"], probe["limit"]) == ("1m", "0", "1")

    configured = datetime(2019, 9, 1, tzinfo=UTC)
    without_probe = make_source(probe_listing=False, start=configured).coverage("BTCUSDT")
    assert without_probe.start == configured


def test_symbols_map_to_ccxt_markets(fake_binance: FakeBinance, make_source: SourceFactory) -> None:
    source = make_source(symbols=())
    assert source.symbols() == ["BTCUSDT", "ETHUSDT"]
    assert source.market_for("BTCUSDT") == "BTC/USDT"
    assert make_source(symbols=("ETHUSDT",)).symbols() == ["ETHUSDT"]
    # Only the spot market list was loaded: no futures endpoints were called.
    assert {request.path for request in fake_binance.log} == {"/api/v3/exchangeInfo"}

    with pytest.raises(ConfigurationError, match="'DOGEUSDT' is not a spot market on binance"):
        source.fetch_bars("DOGEUSDT", START, START + HOUR)


def test_spec_rebuilds_the_same_source(fake_binance: FakeBinance) -> None:
    source = CcxtMarketSource(fake_binance.source_config())
    spec = source.spec
    assert (spec["kind"], spec["name"], spec["exchange"]) == ("ccxt", "ccxt:binance", "binance")

    rebuilt = market_source_from_spec(spec)

    assert isinstance(rebuilt, CcxtMarketSource)
    assert rebuilt.name == source.name
    assert rebuilt.config.config_hash == source.config.config_hash
    frame = rebuilt.fetch_bars("BTCUSDT", START, START + 3 * HOUR)
    assert frame["ts"].dt.epoch("ms").to_list() == [fake_binance.ts(h) for h in range(3)]


def test_configuration_mistakes_name_the_field(fake_binance: FakeBinance) -> None:
    with pytest.raises(ConfigurationError, match=r"spec\.config\.exchange"):
        CcxtMarketSource.from_spec({"kind": "ccxt", "config": {"exchange": "nosuchexchange"}})
    with pytest.raises(ConfigurationError, match="no API url named"):
        CcxtMarketSource(CcxtBackfillConfig(urls={"nosuchapi": fake_binance.url}))
    with pytest.raises(ConfigurationError, match="backoff_cap_s"):
        CcxtBackfillConfig.parse({"backoff_base_s": 5, "backoff_cap_s": 1})
    with pytest.raises(ConfigurationError, match="unsupported bar timeframe"):
        CcxtMarketSource(fake_binance.source_config()).fetch_bars(
            "BTCUSDT", START, START + HOUR, timeframe="5m"
        )


def test_an_exchange_that_rejects_the_request_is_a_configuration_error(
    fake_binance: FakeBinance, make_source: SourceFactory
) -> None:
    source = make_source()
    source.market_for("BTCUSDT")
    # Make ccxt ask the server for a symbol it does not list (Binance answers -1121).
    source._exchange.markets["BTC/USDT"]["id"] = "NOPEUSDT"
    with pytest.raises(ConfigurationError, match="refused"):
        source.fetch_bars("BTCUSDT", START, START + 2 * HOUR)
    assert [request.status for request in fake_binance.requests()] == [400]
