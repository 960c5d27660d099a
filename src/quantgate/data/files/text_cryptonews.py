"""The news export layout (shared/data/cryptonews_api_2022 and exports like it).

Columns: `timestamp (UTC ISO-8601), title, text, tickers ("BTC|ETH"), news_url`
(+ optional `source_name`, kept as the author; sentiment, topics and the rest are
ignored). A news item has no id of its own, so its post_id is derived from its
URL: the same article reached through another feed gets the same id.
"""

from __future__ import annotations

import hashlib

import polars as pl

from quantgate.data.files.checks import require_columns
from quantgate.data.files.tables import ROW
from quantgate.data.files.textrows import (
    column_or_null,
    require_unique_ids,
    required_ids,
    text_rows,
)
from quantgate.data.files.timeparse import parse_utc_times

REQUIRED = ["timestamp", "title", "text", "tickers", "news_url"]
ID_PREFIX = "news-"


def news_id(url: str) -> str:
    return ID_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:32]


def layout_rows(table: pl.DataFrame, origin: str) -> pl.DataFrame:
    require_columns(table, REQUIRED, origin=origin, what="a news export")
    rows = table[ROW]
    urls = required_ids(table, "news_url", origin=origin)
    kinds = pl.Series(["post"] * table.height, dtype=pl.String)
    require_unique_ids(urls, kinds, rows, origin=origin, field="news_url")
    ts = parse_utc_times(table["timestamp"], rows, origin=origin, field="timestamp")
    nothing = pl.Series([None] * table.height, dtype=pl.String)
    frame = text_rows(
        **{ROW: rows},
        kind=kinds,
        id=pl.Series([news_id(url) for url in urls.to_list()], dtype=pl.String),
        post_id=nothing,
        parent_id=nothing,
        ts=ts,
        author=column_or_null(table, "source_name"),
        title=table["title"].fill_null(""),
        body=table["text"].fill_null(""),
        names=table["tickers"].fill_null("").str.split("|"),
    )
    return frame
