"""FileMarketSource / FileTextSource: spec round trip, symbols, coverage, ranged fetches, cache."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from quantgate.core import ConfigurationError, DataError
from quantgate.data.files import FileMarketSource, FileTextSource
from quantgate.data.schema import BAR_SCHEMA, POSTS
from quantgate.data.sources.registry import market_source_from_spec, text_source_from_spec

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def write_bars(path: Path, hours: list[int], close: float = 100.0) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    for h in hours:
        ts = (T0 + h * HOUR).isoformat().replace("+00:00", "Z")
        lines.append(f"{ts},{close},{close + 1},{close - 1},{close + h},{h}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def bar_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "klines"
    folder.mkdir()
    write_bars(folder / "BTCUSDT_1h.csv", [0, 1, 2, 5, 6])  # hours 3 and 4 missing
    write_bars(folder / "ETHUSDT_1h.csv", [2, 3])
    (folder / "SOURCE.md").write_text("not data")
    return folder


def test_market_source_serves_symbols_coverage_and_ranges(bar_folder: Path) -> None:
    source = FileMarketSource(bar_folder)
    assert source.name == "files:klines"
    assert source.symbols() == ["BTCUSDT", "ETHUSDT"]
    coverage = source.coverage("BTCUSDT")
    assert (coverage.start, coverage.end) == (T0, T0 + 7 * HOUR)
    window = source.fetch_bars("BTCUSDT", T0 + HOUR, T0 + 6 * HOUR)
    assert window.schema == pl.Schema(BAR_SCHEMA)
    assert window["ts"].to_list() == [T0 + HOUR, T0 + 2 * HOUR, T0 + 5 * HOUR]
    assert window["close"].to_list() == [101.0, 102.0, 105.0]
    # The gap is confirmed by an empty answer, not an error.
    gap = source.fetch_bars("BTCUSDT", T0 + 3 * HOUR, T0 + 5 * HOUR)
    assert gap.is_empty() and gap.schema == pl.Schema(BAR_SCHEMA)


def test_market_source_spec_round_trip_through_the_registry(bar_folder: Path) -> None:
    source = FileMarketSource(bar_folder, name="my-bars", latency=timedelta(seconds=30))
    spec = source.spec
    assert spec == {
        "kind": "files",
        "name": "my-bars",
        "path": str(bar_folder.resolve()),
        "format": None,
        "latency_seconds": 30.0,
    }
    rebuilt = market_source_from_spec(spec)
    assert isinstance(rebuilt, FileMarketSource)
    assert rebuilt.spec == spec
    bars = rebuilt.fetch_bars("ETHUSDT", T0, T0 + 10 * HOUR)
    assert bars["source"].to_list() == ["my-bars"] * 2
    assert bars["available_at"].to_list() == [
        T0 + 3 * HOUR + timedelta(seconds=30),
        T0 + 4 * HOUR + timedelta(seconds=30),
    ]


def test_single_file_source_with_symbol_override(tmp_path: Path) -> None:
    path = write_bars(tmp_path / "export.csv", [0, 1])
    source = FileMarketSource(path, symbol="dotusdt", timeframe="1h", format="ohlcv")
    assert source.name == "files:export"
    assert source.symbols() == ["DOTUSDT"]
    assert source.spec["symbol"] == "DOTUSDT" and source.spec["format"] == "ohlcv"
    assert FileMarketSource.from_spec(source.spec).symbols() == ["DOTUSDT"]


def test_parsed_files_are_cached_until_the_file_changes(bar_folder: Path) -> None:
    source = FileMarketSource(bar_folder)
    first = source.bar_files("ETHUSDT")[0]
    assert source.bar_files("ETHUSDT")[0] is first
    path = write_bars(bar_folder / "ETHUSDT_1h.csv", [2, 3, 4])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert source.bars("ETHUSDT").height == 3


def test_unknown_symbol_and_timeframe_are_refused_not_empty(bar_folder: Path) -> None:
    source = FileMarketSource(bar_folder)
    with pytest.raises(ConfigurationError, match="no bars for SOLUSDT"):
        source.fetch_bars("SOLUSDT", T0, T0 + HOUR)
    with pytest.raises(ConfigurationError, match="not 1m"):
        source.fetch_bars("BTCUSDT", T0, T0 + HOUR, timeframe="1m")


def test_several_timeframes_of_one_symbol(tmp_path: Path) -> None:
    write_bars(tmp_path / "BTCUSDT_1h.csv", [0, 1])
    minutes = ["timestamp,open,high,low,close,volume"] + [
        f"{(T0 + timedelta(minutes=m)).isoformat()},1,1,1,1,1" for m in range(3)
    ]
    (tmp_path / "BTCUSDT_1m.csv").write_text("\n".join(minutes) + "\n")
    source = FileMarketSource(tmp_path)
    assert source.timeframes("BTCUSDT") == ["1m", "1h"]
    assert source.fetch_bars("BTCUSDT", T0, T0 + HOUR, timeframe="1m").height == 3
    assert source.fetch_bars("BTCUSDT", T0, T0 + 5 * HOUR).height == 2
    assert source.coverage("BTCUSDT").end == T0 + 2 * HOUR


def test_missing_path_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        FileMarketSource(tmp_path / "nowhere").symbols()


def test_market_source_refuses_text_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="holds texts"):
        FileMarketSource(tmp_path, format="reddit")
    with pytest.raises(ConfigurationError, match="unknown file format"):
        FileMarketSource(tmp_path, format="excel")


TEXTS = """id,published_at,symbols,title,body,kind,parent_id
p1,2022-05-09T23:59:00Z,BTC,Up,,post,
p2,2022-05-11T08:00:00Z,ETH,Down,,post,
c1,2022-05-12T00:30:00Z,,,me too,comment,p1
"""


def test_text_source_serves_symbols_coverage_and_ranges(tmp_path: Path) -> None:
    (tmp_path / "texts.csv").write_text(TEXTS)
    source = FileTextSource(tmp_path / "texts.csv", symbol_map={"BTC": "BTCUSDT", "ETH": "ETHUSDT"})
    assert source.name == "files:texts"
    assert source.symbols() == ["BTCUSDT", "ETHUSDT"]
    coverage = source.coverage("BTCUSDT")  # post on 05-09, its comment on 05-12
    assert (coverage.start, coverage.end) == (
        datetime(2022, 5, 9, tzinfo=UTC),
        datetime(2022, 5, 13, tzinfo=UTC),
    )
    may10 = datetime(2022, 5, 10, tzinfo=UTC)
    assert source.fetch_posts("BTCUSDT", may10 - timedelta(days=1), may10)["post_id"].to_list() == [
        "p1"
    ]
    assert source.fetch_posts("BTCUSDT", may10, may10 + timedelta(days=5)).is_empty()
    comments = source.fetch_comments("BTCUSDT", may10, may10 + timedelta(days=5))
    assert comments["comment_id"].to_list() == ["c1"]
    assert source.fetch_posts("ETHUSDT", may10, may10 + timedelta(days=5)).schema == pl.Schema(
        POSTS.schema
    )


def test_text_source_spec_keeps_a_custom_symbol_map(tmp_path: Path) -> None:
    (tmp_path / "texts.csv").write_text(TEXTS)
    source = FileTextSource(tmp_path, symbol_map={"BTC": ["BTCUSD"]}, name="news")
    spec = source.spec
    assert spec["symbol_map"] == {"BTC": ["BTCUSD"]}
    rebuilt = text_source_from_spec(spec)
    assert isinstance(rebuilt, FileTextSource)
    assert rebuilt.symbols() == ["BTCUSD"]
    assert rebuilt.unmapped().posts == 1 and rebuilt.unmapped().names == {"ETH": 1}
    assert "symbol_map" not in FileTextSource(tmp_path).spec


def test_the_same_post_in_two_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(TEXTS)
    (tmp_path / "b.csv").write_text(TEXTS)
    with pytest.raises(DataError, match="holds the same key") as caught:
        FileTextSource(tmp_path).posts()
    assert caught.value.source == str((tmp_path / "b.csv").resolve())
