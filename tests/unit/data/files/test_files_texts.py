"""Text readers: generic, reddit and news layouts → POSTS / COMMENTS, a row per text and symbol."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from quantgate.core import ConfigurationError, DataError
from quantgate.data.files import FileFormat, SymbolMap, read_text_file
from quantgate.data.files.text_cryptonews import news_id
from quantgate.data.schema import COMMENTS, DEFAULT_TEXT_INGESTION_LATENCY, POSTS

FETCHED = datetime(2026, 1, 2, tzinfo=UTC)
T0 = datetime(2022, 5, 9, 12, tzinfo=UTC)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def read(path: Path, mapping: SymbolMap | None = None, **options: object):  # type: ignore[no-untyped-def]
    return read_text_file(
        path,
        source="test",
        fetched_at=FETCHED,
        symbol_map=mapping or SymbolMap(),
        **options,  # type: ignore[arg-type]
    )


def iso(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


GENERIC = [
    {"id": "p1", "published_at": iso(0), "symbols": "BTC, ETH", "title": "Both", "body": "b1",
     "kind": "post", "parent_id": "", "author": "ann"},
    {"id": "p2", "published_at": iso(1), "symbols": "LUNA", "title": "Luna", "body": "",
     "kind": "post", "parent_id": "", "author": ""},
    {"id": "c1", "published_at": iso(2), "symbols": "", "title": "", "body": "reply",
     "kind": "comment", "parent_id": "p1", "author": "bob"},
    {"id": "c2", "published_at": iso(3), "symbols": "SOLUSDT", "title": "", "body": "deeper",
     "kind": "comment", "parent_id": "c1", "author": "cy"},
    {"id": "c3", "published_at": iso(4), "symbols": "", "title": "", "body": "on luna",
     "kind": "comment", "parent_id": "p2", "author": "dee"},
]  # fmt: skip


def test_generic_csv_posts_and_comments(tmp_path: Path) -> None:
    parsed = read(write_csv(tmp_path / "texts.csv", GENERIC))
    assert parsed.format is FileFormat.TEXT and parsed.texts_read == 5
    posts, comments = parsed.posts, parsed.comments
    assert posts.schema == pl.Schema(POSTS.schema)
    assert comments.schema == pl.Schema(COMMENTS.schema)
    assert posts.select("post_id", "symbol", "author", "title", "body").rows() == [
        ("p1", "BTCUSDT", "ann", "Both", "b1"),
        ("p1", "ETHUSDT", "ann", "Both", "b1"),
    ]
    assert posts["ts"].to_list() == [T0, T0]
    assert posts["available_at"].to_list() == [T0 + DEFAULT_TEXT_INGESTION_LATENCY] * 2
    # c1 names no symbol and inherits its post's; c2 names its own and finds p1 through c1.
    assert comments.select("comment_id", "post_id", "parent_id", "symbol", "body").rows() == [
        ("c1", "p1", "p1", "BTCUSDT", "reply"),
        ("c1", "p1", "p1", "ETHUSDT", "reply"),
        ("c2", "p1", "c1", "SOLUSDT", "deeper"),
    ]
    # p2 is only about LUNA, so p2 and its comment c3 are unmapped: counted, with the name.
    assert (parsed.unmapped.posts, parsed.unmapped.comments) == (1, 1)
    assert parsed.unmapped.names == {"LUNA": 1}


def test_generic_jsonl_with_symbol_lists_and_given_post_ids(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "published_at": iso(0), "symbols": ["XRP"], "title": "t", "body": "b"},
        {"id": "b", "published_at": iso(5), "symbols": ["Polkadot", "bitcoin"], "kind": "comment",
         "post_id": "elsewhere", "body": "x"},
    ]  # fmt: skip
    path = tmp_path / "texts.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    parsed = read(path)
    assert parsed.posts.select("post_id", "symbol").rows() == [("a", "XRPUSDT")]
    assert parsed.comments.select("comment_id", "post_id", "parent_id", "symbol").rows() == [
        ("b", "elsewhere", "elsewhere", "BTCUSDT"),
        ("b", "elsewhere", "elsewhere", "DOTUSDT"),
    ]
    assert parsed.unmapped.count == 0


def test_custom_symbol_map(tmp_path: Path) -> None:
    mapping = SymbolMap({"LUNA": ["LUNAUSDT"], "Bitcoin": "BTCUSD"})
    parsed = read(write_csv(tmp_path / "texts.csv", GENERIC), mapping)
    assert sorted(parsed.posts["symbol"].unique()) == ["LUNAUSDT"]  # BTC/ETH are not in it
    # Only the map's own targets pass as symbols; SOLUSDT is not one of them here.
    assert parsed.unmapped.names == {"BTC": 1, "ETH": 1, "SOLUSDT": 1}
    assert mapping.symbols() == ["BTCUSD", "LUNAUSDT"]


def test_symbol_map_refuses_contradicting_entries() -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        SymbolMap({"BTC": "BTCUSDT", "btc": "BTCUSD"})


REDDIT = [
    {"id": "rt6r1a", "kind": "submission", "timestamp": iso(0), "created_utc": "0",
     "subreddit": "Bitcoin", "score": "1.0", "num_comments": "1", "title": "Hello",
     "text": "", "parent_id": "", "link_id": "", "source_file": "x.tsv"},
    {"id": "hqrone", "kind": "comment", "timestamp": iso(1), "created_utc": "0",
     "subreddit": "Bitcoin", "score": "2", "num_comments": "", "title": "",
     "text": "first", "parent_id": "t3_rt6r1a", "link_id": "t3_rt6r1a", "source_file": "y.tsv"},
    {"id": "hqrtwo", "kind": "comment", "timestamp": iso(2), "created_utc": "0",
     "subreddit": "solana", "score": "2", "num_comments": "", "title": "",
     "text": "[deleted]", "parent_id": "t1_hqrone", "link_id": "t3_other", "source_file": "y.tsv"},
    {"id": "zz1", "kind": "submission", "timestamp": iso(3), "created_utc": "0",
     "subreddit": "CryptoCurrency", "score": "1", "num_comments": "0", "title": "General",
     "text": "body", "parent_id": "", "link_id": "", "source_file": "x.tsv"},
]  # fmt: skip


def test_reddit_export(tmp_path: Path) -> None:
    parsed = read(write_csv(tmp_path / "reddit.csv.gz", REDDIT))
    assert parsed.format is FileFormat.REDDIT
    assert parsed.posts.select("post_id", "symbol", "title", "body", "author").rows() == [
        ("t3_rt6r1a", "BTCUSDT", "Hello", "", None)
    ]
    assert parsed.comments.select(
        "comment_id", "post_id", "parent_id", "symbol", "body"
    ).rows() == [
        ("t1_hqrone", "t3_rt6r1a", "t3_rt6r1a", "BTCUSDT", "first"),
        ("t1_hqrtwo", "t3_other", "t1_hqrone", "SOLUSDT", "[deleted]"),
    ]
    assert parsed.unmapped.posts == 1 and parsed.unmapped.names == {"CryptoCurrency": 1}


def test_reddit_comment_needs_fullnames(tmp_path: Path) -> None:
    rows = [dict(REDDIT[1], link_id="rt6r1a")]
    path = write_csv(tmp_path / "reddit.csv", rows)
    with pytest.raises(DataError) as caught:
        read(path)
    assert (caught.value.row, caught.value.field) == (1, "link_id")


NEWS = [
    {"timestamp": iso(0), "date_raw": "Mon, 09 May 2022 08:00:00 -0400", "source_name": "NewsBTC",
     "title": "BTC and LUNA", "text": "summary", "tickers": "BTC|LUNA", "topics": "",
     "sentiment": "Negative", "type": "Article", "news_url": "https://example.com/a"},
    {"timestamp": iso(1), "date_raw": "", "source_name": "CoinDesk", "title": "UST",
     "text": "", "tickers": "UST", "topics": "", "sentiment": "Neutral", "type": "Video",
     "news_url": "https://example.com/b"},
]  # fmt: skip


def test_news_export(tmp_path: Path) -> None:
    parsed = read(write_csv(tmp_path / "news.csv", NEWS))
    assert parsed.format is FileFormat.CRYPTONEWS
    assert parsed.posts.select("post_id", "symbol", "author", "title", "body").rows() == [
        (news_id("https://example.com/a"), "BTCUSDT", "NewsBTC", "BTC and LUNA", "summary")
    ]
    assert parsed.comments.is_empty()
    assert parsed.unmapped.posts == 1
    assert parsed.unmapped.names == {"LUNA": 1, "UST": 1}


def test_the_same_news_url_twice_is_a_duplicate(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "news.csv", [NEWS[0], dict(NEWS[1], news_url=NEWS[0]["news_url"])])
    with pytest.raises(DataError) as caught:
        read(path)
    assert (caught.value.row, caught.value.field) == (2, "news_url")


@pytest.mark.parametrize(
    ("change", "row", "field", "words"),
    [
        ({"kind": "reply"}, 3, "kind", "not one of"),
        ({"kind": ""}, 3, "kind", "not one of"),  # blank kind but a parent: ambiguous
        ({"parent_id": "nowhere"}, 3, "parent_id", "not a post or comment in this file"),
        ({"published_at": "2022-05-09T12:02:00"}, 3, "published_at", "no UTC offset"),
        ({"published_at": "2022-05-09T14:02:00+02:00"}, 3, "published_at", "non-UTC"),
        ({"id": "p1", "kind": "post"}, 3, "id", "duplicate post"),
        ({"id": ""}, 3, "id", "missing"),
    ],
)
def test_generic_text_errors(
    tmp_path: Path, change: dict[str, str], row: int, field: str, words: str
) -> None:
    rows = [dict(r) for r in GENERIC]
    rows[2].update(change)
    path = write_csv(tmp_path / "texts.csv", rows)
    with pytest.raises(DataError) as caught:
        read(path)
    error = caught.value
    assert (error.source, error.row, error.field) == (str(path), row, field)
    assert words in str(error)


def test_a_bar_file_is_not_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n")
    with pytest.raises(DataError, match="not texts"):
        read(path)
