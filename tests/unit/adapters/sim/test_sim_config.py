"""The synthetic market's config, profiles and source specs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource, SyntheticTextSource
from quantgate.adapters.sim.profiles import profile_for
from quantgate.core import Bucket, ConfigurationError
from quantgate.data.sources.registry import market_source_from_spec, text_source_from_spec

END = datetime(2018, 3, 1, tzinfo=UTC)


def test_defaults_match_the_documented_universe_and_origin() -> None:
    config = SyntheticMarketConfig()
    assert config.seed == 7
    assert config.symbols == (
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "XRPUSDT",
        "BNBUSDT",
        "ADAUSDT",
        "DOGEUSDT",
        "AVAXUSDT",
    )
    assert config.start == datetime(2018, 1, 1, tzinfo=UTC)
    assert config.end is None
    assert config.bar_latency == timedelta(seconds=5)
    assert config.text_latency == timedelta(minutes=1)


def test_social_gap_fraction_follows_gap_fraction_unless_set() -> None:
    assert SyntheticMarketConfig(gap_fraction=0.03).social_gap_fraction == 0.03
    assert (
        SyntheticMarketConfig(gap_fraction=0.03, social_gap_fraction=0.1).social_gap_fraction == 0.1
    )


@pytest.mark.parametrize(
    "values",
    [
        {"start": "2018-01-01T00:00:00"},  # naive
        {"start": "2018-01-01T05:00:00Z"},  # not a midnight
        {"end": "2018-01-01T05:30:00Z"},  # not on the hour
        {"end": "2017-12-01T00:00:00Z"},  # before start
        {"symbols": ["BTCUSDT", "BTCUSDT"]},
        {"symbols": []},
        {"gap_fraction": 0.9},
        {"colour": "blue"},
    ],
)
def test_invalid_values_are_configuration_errors(values: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SyntheticMarketConfig.parse(values)


def test_resolved_floors_now_to_the_hour_and_keeps_an_explicit_end() -> None:
    now = datetime(2024, 5, 6, 7, 59, 59, tzinfo=timezone(timedelta(hours=2)))
    assert SyntheticMarketConfig().resolved(now).end == datetime(2024, 5, 6, 5, tzinfo=UTC)
    assert SyntheticMarketConfig(end=END).resolved(now).end == END


def test_listing_dates_buckets_and_unknown_symbols() -> None:
    start = datetime(2018, 1, 1, tzinfo=UTC)
    assert profile_for("XRPUSDT", start).listing == datetime(2018, 5, 4, tzinfo=UTC)
    assert profile_for("DOGEUSDT", start).bucket is Bucket.MEME
    assert profile_for("SOLUSDT", start).bucket is Bucket.L1
    assert profile_for("BTCUSDT", start).bucket is Bucket.MAJORS
    unknown = profile_for("LINKUSDT", start)
    assert unknown == profile_for("LINKUSDT", start)
    assert unknown.bucket is Bucket.OTHER
    assert unknown.listing == start
    assert unknown.aliases[0] == "LINK"
    assert profile_for("ZZZUSDT", start).start_price != unknown.start_price


def test_spec_round_trips_through_json_and_the_registry() -> None:
    config = SyntheticMarketConfig(end=END, gap_fraction=0.02, symbols=("BTCUSDT", "LINKUSDT"))
    market = SyntheticMarketSource(config)
    spec = json.loads(json.dumps(market.spec))
    assert spec["kind"] == "synthetic" and spec["name"] == "synthetic"
    assert spec["end"] == "2018-03-01T00:00:00Z"
    rebuilt = market_source_from_spec(spec)
    assert isinstance(rebuilt, SyntheticMarketSource)
    assert rebuilt.config == config and rebuilt.config.config_hash == config.config_hash
    text = text_source_from_spec(spec)
    assert isinstance(text, SyntheticTextSource)
    assert text.spec == market.spec


def test_an_unresolved_config_is_resolved_when_the_source_is_built() -> None:
    now = datetime(2019, 1, 1, 12, 30, tzinfo=UTC)
    source = SyntheticMarketSource(SyntheticMarketConfig(symbols=("BTCUSDT",)), now=now)
    assert source.spec["end"] == "2019-01-01T12:00:00Z"
    assert source.coverage("BTCUSDT").end == datetime(2019, 1, 1, 12, tzinfo=UTC)


def test_a_spec_of_another_kind_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        SyntheticMarketSource.from_spec({"kind": "ccxt"})
