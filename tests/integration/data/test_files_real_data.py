"""The real files in ../shared/data import as they are; counts are checked against an
independent reading of the raw files with the csv and gzip modules (no Polars)."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from quantgate.data.files import FileMarketSource, import_path
from quantgate.storage import Lake

pytestmark = pytest.mark.realdata

HOUR = timedelta(hours=1)
SUBREDDITS = {
    "Bitcoin": "BTCUSDT",
    "ethereum": "ETHUSDT",
    "solana": "SOLUSDT",
    "XRP": "XRPUSDT",
    "Polkadot": "DOTUSDT",
}
TICKERS = ["BTC", "ETH", "SOL", "XRP", "ADA", "AVAX", "BCH", "DOGE", "DOT", "LINK", "LTC",
           "NEAR", "XTZ"]  # fmt: skip


def csv_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def gaps(times: list[datetime]) -> tuple[int, int]:
    """(missing hourly bars, gap runs) between consecutive bar times."""
    steps = [(b - a) // HOUR for a, b in pairwise(times)]
    return sum(s - 1 for s in steps if s > 1), sum(1 for s in steps if s > 1)


def test_binance_spot_1h_imports_with_its_gaps(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "binance_spot_1h"
    lake = Lake(tmp_path / "lake")
    result = import_path(lake, folder)
    counts = {c.symbol: c for c in result.counts}
    assert len(counts) == 13
    assert {c.dataset for c in result.counts} == {"bars_1h"}
    assert result.totals()["bars_1h"].inserted == 799_278  # SOURCE.md total
    for path in sorted(folder.glob("*_1h.csv.gz")):
        symbol = path.name.split("_")[0]
        with gzip.open(path, "rt") as handle:
            raw_rows = sum(1 for _ in handle) - 1  # minus the header
        assert (counts[symbol].read, counts[symbol].inserted) == (raw_rows, raw_rows), symbol

    # Gaps from the raw file (csv module) must equal gaps in the lake, and SOURCE.md.
    for symbol, expected in (("BTCUSDT", (73_265, 122, 27)), ("SOLUSDT", (50_489, 20, 10))):
        raw = csv_rows(folder / f"{symbol}_1h.csv.gz")
        raw_times = [datetime.fromisoformat(r["timestamp"]) for r in raw]
        stored = lake.read("bars_1h", [symbol]).sort("ts")
        stored_times = stored["ts"].to_list()
        assert stored_times == raw_times
        assert (len(raw_times), *gaps(raw_times)) == expected
        assert (len(stored_times), *gaps(stored_times)) == expected
        assert stored["close"].to_list() == [float(r["close"]) for r in raw]
        assert (stored["available_at"] - stored["ts"]).unique().to_list() == [
            HOUR + timedelta(seconds=5)
        ]

    first = lake.read("bars_1h", ["BTCUSDT"]).sort("ts").row(0, named=True)
    assert first["ts"] == datetime(2018, 1, 1, tzinfo=UTC)
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        13715.65,
        13715.65,
        13400.01,
        13529.01,
        443.356199,
    )


def test_binance_source_confirms_the_2018_outage_as_empty(shared_data: Path) -> None:
    source = FileMarketSource(shared_data / "binance_spot_1h")
    outage = datetime(2018, 2, 8, 1, tzinfo=UTC)  # SOURCE.md: 33 missing hours from here
    assert source.fetch_bars("ETHUSDT", outage, outage + 33 * HOUR).is_empty()
    around = source.fetch_bars("ETHUSDT", outage - HOUR, outage + 34 * HOUR)
    assert around["ts"].to_list() == [outage - HOUR, outage + 33 * HOUR]
    coverage = source.coverage("SOLUSDT")
    assert (coverage.start, coverage.end) == (
        datetime(2020, 8, 11, 6, tzinfo=UTC),
        datetime(2026, 5, 16, 19, tzinfo=UTC),
    )


def test_reddit_imports_posts_and_comments_per_subreddit(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "reddit_crypto_2022" / "reddit_crypto_2022.csv.gz"
    raw = Counter((r["subreddit"], r["kind"]) for r in csv_rows(path))
    lake = Lake(tmp_path / "lake")
    result = import_path(lake, path)
    assert result.texts_read == sum(raw.values()) == 180_033
    assert result.unmapped.count == 0
    counts = {(c.dataset, c.symbol): c.inserted for c in result.counts}
    for subreddit, symbol in SUBREDDITS.items():
        assert counts[("posts", symbol)] == raw[(subreddit, "submission")], subreddit
        assert counts[("comments", symbol)] == raw[(subreddit, "comment")], subreddit
    assert counts[("posts", "BTCUSDT")] == 51_508  # SOURCE.md
    assert counts[("comments", "ETHUSDT")] == 30_694
    comments = lake.read("comments", ["SOLUSDT"])
    assert comments["comment_id"].str.starts_with("t1_").all()
    assert comments["post_id"].str.starts_with("t3_").all()


def test_cryptonews_imports_one_row_per_article_and_mapped_ticker(
    shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "cryptonews_api_2022" / "cryptonews_api_2022.csv.gz"
    raw = csv_rows(path)
    per_symbol: Counter[str] = Counter()
    unmapped_articles = 0
    for row in raw:
        tickers = {t for t in row["tickers"].split("|") if t}
        mapped = tickers & set(TICKERS)
        per_symbol.update(f"{t}USDT" for t in mapped)
        unmapped_articles += not mapped
    lake = Lake(tmp_path / "lake")
    result = import_path(lake, path)
    assert result.texts_read == len(raw) == 16_082
    assert {c.symbol: c.inserted for c in result.counts} == dict(per_symbol)
    assert per_symbol["BTCUSDT"] == 11_011  # SOURCE.md ticker mentions
    assert result.unmapped.count == unmapped_articles
    assert result.unmapped.names["LUNA"] == 470
    assert lake.read("posts", ["XRPUSDT"]).height == per_symbol["XRPUSDT"]
