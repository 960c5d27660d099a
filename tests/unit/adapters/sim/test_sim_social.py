"""Synthetic social text: volume, threading, ids, tone following the latent sentiment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource, SyntheticTextSource
from quantgate.core import Horizon
from quantgate.data.schema import COMMENTS, POSTS

START = datetime(2018, 1, 1, tzinfo=UTC)
END = datetime(2018, 7, 1, tzinfo=UTC)
CONFIG = SyntheticMarketConfig(end=END)
BULLISH = re.compile(r"\b(bull\w*|buy\w*|bought|rally|green|strong|moon|accumulat\w*|pump)\b", re.I)
BEARISH = re.compile(r"\b(bear\w*|sell\w*|sold|dump\w*|red|weak|crash|liquidated|trap)\b", re.I)


@pytest.fixture(scope="module")
def text() -> SyntheticTextSource:
    return SyntheticTextSource(CONFIG)


@pytest.fixture(scope="module")
def threads(text: SyntheticTextSource) -> tuple[pl.DataFrame, pl.DataFrame]:
    posts = pl.concat([text.fetch_posts(s, START, END) for s in text.symbols()])
    comments = pl.concat([text.fetch_comments(s, START, END) for s in text.symbols()])
    return posts, comments


def test_frames_conform_and_carry_latency(threads: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    posts, comments = threads
    assert posts.schema == pl.Schema(POSTS.schema)
    assert comments.schema == pl.Schema(COMMENTS.schema)
    for frame in (posts, comments):
        assert (frame["available_at"] == frame["ts"] + timedelta(minutes=1)).all()
        assert (frame["fetched_at"] == frame["available_at"]).all()
        assert frame["body"].null_count() == 0 and (frame["body"].str.len_chars() > 5).all()
    assert posts["post_id"].n_unique() == len(posts)
    assert comments["comment_id"].n_unique() == len(comments)
    assert posts["post_id"].str.starts_with("syn-p-").all()
    assert posts["title"].str.len_chars().min() > 5  # type: ignore[operator]
    assert posts["author"].n_unique() > 100


def test_every_listed_day_has_a_post_and_no_earlier_day_has_one(text: SyntheticTextSource) -> None:
    for symbol in text.symbols():
        posts = text.fetch_posts(symbol, START, END)
        first = text.coverage(symbol).start
        days = posts["ts"].dt.date().unique().sort().to_list()
        expected = [(first + timedelta(days=d)).date() for d in range((END - first).days)]
        assert days == expected


def test_comment_to_post_ratio_is_between_10_and_15(
    threads: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    posts, comments = threads
    assert 10 <= len(comments) / len(posts) <= 15
    assert (
        1.5
        < len(posts) / posts.select(pl.struct("symbol", pl.col("ts").dt.date()).n_unique()).item()
        < 4
    )


def test_threads_are_consistent(threads: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    posts, comments = threads
    joined = comments.join(
        posts.select(
            "post_id", pl.col("ts").alias("post_ts"), pl.col("symbol").alias("post_symbol")
        ),
        on="post_id",
        how="left",
    )
    assert joined["post_ts"].null_count() == 0  # every comment's post exists
    assert (joined["symbol"] == joined["post_symbol"]).all()
    assert (joined["ts"] > joined["post_ts"]).all()
    assert (joined["ts"].dt.date() == joined["post_ts"].dt.date()).all()
    replies = joined.filter(pl.col("parent_id") != pl.col("post_id")).join(
        comments.select(
            pl.col("comment_id").alias("parent_id"),
            pl.col("post_id").alias("parent_post"),
            pl.col("ts").alias("parent_ts"),
        ),
        on="parent_id",
        how="left",
    )
    assert 0.2 < len(replies) / len(comments) < 0.6
    assert replies["parent_post"].null_count() == 0  # parent ids name real comments
    assert (replies["parent_post"] == replies["post_id"]).all()  # of the same post
    assert (replies["parent_ts"] <= replies["ts"]).all()


def test_tone_follows_the_sentiment_known_at_publication(
    threads: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    market = SyntheticMarketSource(CONFIG)
    posts, comments = threads
    texts = pl.concat(
        [
            posts.select(
                "symbol", "ts", pl.concat_str(["title", "body"], separator=" ").alias("text")
            ),
            comments.select("symbol", "ts", pl.col("body").alias("text")),
        ]
    ).sort("ts")
    known = pl.concat(
        [
            market.planted_signal(s, Horizon.H1).select(
                pl.lit(s).alias("symbol"), pl.col("decision_at").alias("ts"), "sentiment"
            )
            for s in market.symbols()
        ]
    ).sort("ts")
    merged = texts.join_asof(
        known, on="ts", by="symbol", strategy="backward", check_sortedness=False
    ).drop_nulls()
    score = np.array(
        [len(BULLISH.findall(t)) - len(BEARISH.findall(t)) for t in merged["text"].to_list()]
    )
    correlation = np.corrcoef(score, merged["sentiment"].to_numpy())[0, 1]
    assert correlation > 0.3
    # Busy days are the ones with strong sentiment either way.
    daily = merged.group_by("symbol", pl.col("ts").dt.date().alias("day")).agg(
        pl.len().alias("texts"), pl.col("sentiment").abs().mean().alias("strength")
    )
    assert np.corrcoef(daily["texts"], daily["strength"])[0, 1] > 0.1


def test_text_is_deterministic_and_prefix_stable(text: SyntheticTextSource) -> None:
    a, b = datetime(2018, 3, 3, 5, tzinfo=UTC), datetime(2018, 3, 9, tzinfo=UTC)
    full = text.fetch_comments("ETHUSDT", START, END)
    part = text.fetch_comments("ETHUSDT", a, b)
    assert part.equals(full.filter((pl.col("ts") >= a) & (pl.col("ts") < b)))
    later = SyntheticTextSource(CONFIG.model_copy(update={"end": datetime(2019, 1, 1, tzinfo=UTC)}))
    assert later.fetch_posts("ETHUSDT", START, END).equals(text.fetch_posts("ETHUSDT", START, END))
    other = SyntheticTextSource(CONFIG.model_copy(update={"seed": 1}))
    assert not other.fetch_posts("ETHUSDT", a, b)["body"].equals(
        text.fetch_posts("ETHUSDT", a, b)["body"]
    )


def test_the_last_day_is_cut_at_the_end() -> None:
    end = datetime(2018, 2, 1, 12, tzinfo=UTC)
    text = SyntheticTextSource(CONFIG.model_copy(update={"end": end}))
    comments = text.fetch_comments("BTCUSDT", START, end + timedelta(days=2))
    assert comments["ts"].max() < end  # type: ignore[operator]
