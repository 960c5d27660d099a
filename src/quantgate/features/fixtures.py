"""Small synthetic lakes for the feature layer's tests and benchmarks.

Random-walk hourly bars (with a shared market factor) and a few templated posts
and comments per symbol and day; bars are published 5 s after their close and
texts 1 min after they are written. Deterministic in the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from quantgate.data.schema import BARS_1H, COMMENTS, POSTS, UTC_TIME
from quantgate.storage.lake import Lake

HOUR = timedelta(hours=1)
BAR_LATENCY = timedelta(seconds=5)
TEXT_LATENCY = timedelta(minutes=1)

_BULL = ("is pumping hard", "looks very bullish", "breaks out to new highs", "will moon soon")
_BEAR = ("is dumping again", "looks bearish here", "breaks down badly", "is going to crash")
_NEUTRAL = ("is moving sideways", "has average volume today", "is being discussed", "news today")


def synthetic_bars(
    symbols: Sequence[str],
    start: datetime,
    hours: int,
    seed: int = 1,
    source: str = "sim",
    listing_offsets: dict[str, int] | None = None,
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.006, hours)
    frames = []
    offsets = listing_offsets or {}
    for k, symbol in enumerate(symbols):
        beta = 0.6 + 0.2 * k
        returns = beta * market + rng.normal(0.0, 0.008, hours)
        close = 100.0 * (k + 1) * np.exp(np.cumsum(returns))
        open_ = np.concatenate([[close[0] / np.exp(returns[0])], close[:-1]])
        wiggle = np.abs(rng.normal(0.0, 0.004, (2, hours)))
        high = np.maximum(open_, close) * np.exp(wiggle[0])
        low = np.minimum(open_, close) * np.exp(-wiggle[1])
        volume = np.exp(rng.normal(10.0, 0.5, hours))
        ts = [start + HOUR * i for i in range(hours)]
        frame = pl.DataFrame(
            {
                "source": source,
                "symbol": symbol,
                "ts": pl.Series(ts, dtype=UTC_TIME),
                "open": open_,
                "high": high,
                "low": low,
                "close": close,
                "volume": volume,
            }
        ).with_columns(
            (pl.col("ts") + HOUR + BAR_LATENCY).alias("available_at"),
            (pl.col("ts") + HOUR + BAR_LATENCY).alias("fetched_at"),
        )
        skip = offsets.get(symbol, 0)
        frames.append(frame.slice(skip))
    return pl.concat(frames).select(BARS_1H.columns)


def synthetic_texts(
    symbols: Sequence[str],
    start: datetime,
    hours: int,
    seed: int = 2,
    posts_per_day: float = 3.0,
    comments_per_post: float = 2.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    posts: list[dict[str, object]] = []
    comments: list[dict[str, object]] = []
    days = hours // 24
    for symbol in symbols:
        ticker = symbol.removesuffix("USDT")
        for day in range(days):
            for p in range(rng.poisson(posts_per_day)):
                published = start + timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
                tone = rng.choice(3)
                phrase = (_BULL, _BEAR, _NEUTRAL)[tone][int(rng.integers(0, 4))]
                post_id = f"{symbol}-{day}-{p}"
                posts.append(
                    {
                        "post_id": post_id,
                        "source": "simsocial",
                        "symbol": symbol,
                        "author": f"user{int(rng.integers(0, 30))}",
                        "ts": published,
                        "available_at": published + TEXT_LATENCY,
                        "title": f"${ticker} {phrase}",
                        "body": f"I think {ticker} {phrase} (day {day}, note {p}).",
                        "fetched_at": published + TEXT_LATENCY,
                    }
                )
                for c in range(rng.poisson(comments_per_post)):
                    written = published + timedelta(minutes=int(rng.integers(1, 600)))
                    reply = (_BULL, _BEAR, _NEUTRAL)[int(rng.integers(0, 3))][
                        int(rng.integers(0, 4))
                    ]
                    comments.append(
                        {
                            "comment_id": f"{post_id}-c{c}",
                            "post_id": post_id,
                            "parent_id": post_id,
                            "source": "simsocial",
                            "symbol": symbol,
                            "author": f"user{int(rng.integers(0, 30))}",
                            "ts": written,
                            "available_at": written + TEXT_LATENCY,
                            "body": f"no way, {ticker} {reply}" if c % 2 else f"agree, {reply}",
                            "fetched_at": written + TEXT_LATENCY,
                        }
                    )
    post_frame = (
        pl.DataFrame(posts, schema=POSTS.schema) if posts else pl.DataFrame(schema=POSTS.schema)
    )
    comment_frame = (
        pl.DataFrame(comments, schema=COMMENTS.schema)
        if comments
        else pl.DataFrame(schema=COMMENTS.schema)
    )
    return post_frame, comment_frame


def write_synthetic_lake(
    lake: Lake,
    symbols: Sequence[str],
    start: datetime,
    hours: int,
    seed: int = 1,
    *,
    posts_per_day: float = 3.0,
    comments_per_post: float = 2.0,
    listing_offsets: dict[str, int] | None = None,
) -> None:
    bars = synthetic_bars(symbols, start, hours, seed, listing_offsets=listing_offsets)
    lake.upsert(BARS_1H.name, bars, key=list(BARS_1H.key))
    posts, comments = synthetic_texts(
        symbols, start, hours, seed + 1, posts_per_day, comments_per_post
    )
    if posts.height:
        lake.upsert(POSTS.name, posts, key=list(POSTS.key))
    if comments.height:
        lake.upsert(COMMENTS.name, comments, key=list(COMMENTS.key))
