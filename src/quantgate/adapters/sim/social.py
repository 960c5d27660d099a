"""Synthetic social text per symbol whose volume and tone follow the latent sentiment.

Per symbol and calendar day (from the listing day):

- posts: 1 + Poisson(posts_per_day_base * (1 + |S|) / (1 + E|S|)), with S the
  sentiment known at the day's start, so every listed day has a post and busy
  days are the ones with strong sentiment either way;
- comments: Poisson(comments_per_post) per post, later on the same day, each
  replying to the post or to an earlier comment of it;
- tone: every sentence is neutral with probability NEUTRAL_SHARE, otherwise
  bullish with probability sigmoid(tone_sensitivity * S) and bearish otherwise,
  with S the sentiment known when the text is published (the close of the bar
  before), so the text never knows the future and a text model can recover S.

Draws are counter-based on (symbol, day, post, comment, slot), so a day's text
is the same whichever range is requested. Strings are assembled column-wise in
Polars from template parts rather than formatted one text at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.adapters.sim.frames import with_provenance
from quantgate.adapters.sim.market import SymbolPath, SyntheticMarket
from quantgate.adapters.sim.randomness import (
    hashed_poisson,
    hashed_uniforms,
    stream_key,
)
from quantgate.adapters.sim.timegrid import (
    MICROS_PER_DAY,
    MICROS_PER_HOUR,
    MICROS_PER_SECOND,
    ceil_div,
    floor_div,
    time_column,
    to_micros,
)
from quantgate.adapters.sim.vocabulary import (
    AUTHOR_POOL_SIZE,
    BEARISH,
    BULLISH,
    CLOSER_SERIES,
    NEUTRAL,
    OPENER_SERIES,
    PRICE_TEMPLATES,
    SENTENCE_TEMPLATES,
    TITLE_TEMPLATES,
    Templates,
    author_pool,
)
from quantgate.data.schema import COMMENTS, POSTS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

NEUTRAL_SHARE = 0.35
MEAN_ABS_SENTIMENT = math.sqrt(2.0 / math.pi)  # E|S| for S ~ N(0, 1)
TOP_LEVEL_SHARE = 0.55  # share of comments replying to the post rather than a comment
# How texts are put together: chances of the optional parts.
POST_PRICE_CHANCE, POST_CLOSER_CHANCE = 0.5, 0.35
COMMENT_OPENER_CHANCE, COMMENT_SECOND_CHANCE = 0.4, 0.45
COMMENT_PRICE_CHANCE, COMMENT_CLOSER_CHANCE = 0.15, 0.15
# Diagnostic columns kept next to the lake columns (conform() drops them).
TONE_COLUMN, SENTIMENT_COLUMN = "tone", "sentiment"


@dataclass(frozen=True, slots=True)
class Texts:
    """Posts and comments of some days, with the diagnostic tone and sentiment columns."""

    posts: pl.DataFrame
    comments: pl.DataFrame


def _cumcount(counts: IntArray) -> IntArray:
    """0, 1, ..., n_i - 1 for each group i of size n_i, concatenated."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def format_prices(values: FloatArray) -> pl.Series:
    """Prices the way people type them: 43,251 / 12.48 / 0.07123."""
    texts = []
    for value in values.tolist():
        if value >= 1000:
            texts.append(f"{value:,.0f}")
        elif value >= 1:
            texts.append(f"{value:,.2f}")
        else:
            texts.append(f"{value:.{max(2, 3 - math.floor(math.log10(value)))}f}")
    return pl.Series(texts, dtype=pl.String)


class _Draws:
    """Counter-based uniforms for one kind of text, keyed by its coordinates."""

    def __init__(self, seed: int, symbol: str, kind: str, coords: tuple[IntArray, ...]) -> None:
        self._seed, self._symbol, self._kind, self._coords = seed, symbol, kind, coords

    @property
    def seed(self) -> int:
        return self._seed

    def __call__(self, purpose: str) -> FloatArray:
        key = stream_key(self._seed, "social", self._symbol, self._kind, purpose)
        return hashed_uniforms(key, *self._coords)


class SocialGenerator:
    def __init__(self, market: SyntheticMarket) -> None:
        self.market = market
        self.config = market.config
        self._origin_micros = to_micros(self.config.start)
        self.texts = lru_cache(maxsize=16)(self._generate)

    def day_span(self, symbol: str) -> tuple[int, int]:
        """[first, end) day indices (days since the configured start) with text."""
        first_hour = self.market.first_hour(symbol)
        return first_hour // 24, -(-self.market.total_hours // 24)

    def fetch(self, symbol: str, start: datetime, end: datetime) -> Texts:
        """Texts published in [start, end), with the diagnostic columns."""
        origin = self.config.start
        first = floor_div(start, origin, MICROS_PER_DAY)
        last = ceil_div(end, origin, MICROS_PER_DAY)
        texts = self.texts(symbol, first, last)
        window = (pl.col("ts") >= start) & (pl.col("ts") < end)
        return Texts(texts.posts.filter(window), texts.comments.filter(window))

    def _generate(self, symbol: str, first_day: int, end_day: int) -> Texts:
        self.market.require_symbol(symbol)
        span_first, span_end = self.day_span(symbol)
        days = np.arange(max(first_day, span_first), min(end_day, span_end), dtype=np.int64)
        path = self.market.path(symbol)
        if len(days) == 0 or len(path) == 0:
            return Texts(_empty(POSTS.schema), _empty(COMMENTS.schema))
        posts = self._posts(symbol, path, days)
        comments = self._comments(symbol, path, posts)
        # The last day may be cut short by the configured end.
        latest = pl.col("ts") < self.config.resolved_end
        return Texts(
            _finish(posts.frame, symbol, self.config.text_latency_seconds).filter(latest),
            _finish(comments, symbol, self.config.text_latency_seconds).filter(latest),
        )

    def _known(self, path: SymbolPath, hours: IntArray) -> tuple[FloatArray, FloatArray]:
        """Sentiment and price known at the start of each global hour (the last close)."""
        position = hours - 1 - path.first_hour
        listed = position >= 0
        safe = np.clip(position, 0, len(path) - 1)
        sentiment = np.where(listed, path.sentiment[safe], 0.0)
        price = np.where(listed, path.close[safe], path.open[0])
        return sentiment, price

    def _posts(self, symbol: str, path: SymbolPath, days: IntArray) -> _Posts:
        config = self.config
        window_start = np.maximum(days * 24, path.first_hour)  # listing may be mid-day
        window_micros = (days * 24 + 24 - window_start) * MICROS_PER_HOUR
        day_sentiment, _ = self._known(path, window_start)
        rate = config.posts_per_day_base * (1.0 + np.abs(day_sentiment)) / (1 + MEAN_ABS_SENTIMENT)
        counts = 1 + hashed_poisson(
            stream_key(config.seed, "social", symbol, "post-count"), rate, days
        )
        day = np.repeat(days, counts)
        draw = _cumcount(counts)
        draws = _Draws(config.seed, symbol, "post", (day, draw))
        # At least a second before midnight, so every comment fits on the same day.
        span = np.repeat(window_micros, counts) - MICROS_PER_SECOND
        published = (
            self._origin_micros
            + np.repeat(window_start, counts) * MICROS_PER_HOUR
            + np.floor(draws("time") * span).astype(np.int64)
        )
        order = np.lexsort((draw, published))
        day, draw, published = day[order], draw[order], published[order]
        draws = _Draws(config.seed, symbol, "post", (day, draw))
        number = _cumcount(counts)  # days stay in order, so ranks restart each day
        hour = (published - self._origin_micros) // MICROS_PER_HOUR
        sentiment, price = self._known(path, hour)
        writer = _Writer(draws, sentiment, price, config.tone_sensitivity, path.symbol, self.market)
        title, title_tone = writer.templated("title", TITLE_TEMPLATES)
        used = draws("sentences") * 3.0
        parts, tones = [], [title_tone]
        for slot in range(4):
            # 2 to 4 sentences: slots 0 and 1 always, 2 and 3 by chance.
            present = (slot < 2) | (used >= slot - 1)
            text, tone = writer.templated(f"sentence{slot}", SENTENCE_TEMPLATES, present)
            parts.append(text)
            tones.append(tone)
        price_text, price_tone = writer.priced(draws("price-used") < POST_PRICE_CHANCE)
        parts.append(price_text)
        tones.append(price_tone)
        parts.append(
            writer.pick("closer", CLOSER_SERIES, draws("closer-used") < POST_CLOSER_CHANCE)
        )
        date = time_column("day", self._origin_micros + day * MICROS_PER_DAY).dt.strftime("%Y%m%d")
        post_id = pl.select(
            pl.concat_str([pl.lit(f"syn-p-{symbol}-"), pl.lit(date), pl.lit("-"), _padded(number)])
        ).to_series()
        frame = pl.DataFrame(
            [
                post_id.alias("post_id"),
                writer.authors("author").alias("author"),
                time_column("ts", published),
                title.alias("title"),
                _join(parts).alias("body"),
                pl.Series(TONE_COLUMN, np.sum(tones, axis=0), dtype=pl.Float64),
                pl.Series(SENTIMENT_COLUMN, sentiment, dtype=pl.Float64),
            ]
        )
        return _Posts(frame, day, draw, published, post_id)

    def _comments(self, symbol: str, path: SymbolPath, posts: _Posts) -> pl.DataFrame:
        config = self.config
        counts = hashed_poisson(
            stream_key(config.seed, "social", symbol, "comment-count"),
            config.comments_per_post,
            posts.day,
            posts.draw,
        )
        owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        draw = _cumcount(counts)
        day, post_draw = posts.day[owner], posts.draw[owner]
        draws = _Draws(config.seed, symbol, "comment", (day, post_draw, draw))
        post_time = posts.published[owner]
        room = self._origin_micros + (day + 1) * MICROS_PER_DAY - post_time - 2
        # Beta(1, 3) delays: most replies come soon after the post, all before midnight.
        delay = 1 - draws("delay") ** (1.0 / 3.0)
        published = post_time + 1 + np.floor(delay * room).astype(np.int64)
        order = np.lexsort((draw, published, owner))
        owner, draw, published = owner[order], draw[order], published[order]
        day, post_draw = posts.day[owner], posts.draw[owner]
        draws = _Draws(config.seed, symbol, "comment", (day, post_draw, draw))
        rank = _cumcount(counts)  # owners stay in order, so ranks restart for each post
        to_comment = (rank > 0) & (draws("parent") >= TOP_LEVEL_SHARE)
        parent_rank = np.floor(draws("parent-pick") * rank).astype(np.int64)
        hour = (published - self._origin_micros) // MICROS_PER_HOUR
        sentiment, price = self._known(path, hour)
        writer = _Writer(draws, sentiment, price, config.tone_sensitivity, path.symbol, self.market)
        opener = writer.pick("opener", OPENER_SERIES, draws("opener-used") < COMMENT_OPENER_CHANCE)
        first, first_tone = writer.templated("sentence0", SENTENCE_TEMPLATES)
        second, second_tone = writer.templated(
            "sentence1", SENTENCE_TEMPLATES, draws("second-used") < COMMENT_SECOND_CHANCE
        )
        price_text, price_tone = writer.priced(draws("price-used") < COMMENT_PRICE_CHANCE)
        closer = writer.pick("closer", CLOSER_SERIES, draws("closer-used") < COMMENT_CLOSER_CHANCE)
        post_ids = posts.post_id.gather(owner)
        comment_prefix = pl.select(
            pl.concat_str([pl.lit(post_ids), pl.lit("-")]).str.replace(
                "syn-p-", "syn-c-", literal=True
            )
        ).to_series()
        ids = pl.DataFrame(
            {
                "prefix": comment_prefix,
                "post_id": post_ids,
                "rank": rank,
                "parent_rank": parent_rank,
                "to_comment": to_comment,
            }
        ).select(
            pl.concat_str([pl.col("prefix"), _padded_expr("rank")]).alias("comment_id"),
            pl.col("post_id"),
            pl.when(pl.col("to_comment"))
            .then(pl.concat_str([pl.col("prefix"), _padded_expr("parent_rank")]))
            .otherwise(pl.col("post_id"))
            .alias("parent_id"),
        )
        return ids.with_columns(
            writer.authors("author").alias("author"),
            time_column("ts", published),
            _join([opener, first, second, price_text, closer]).alias("body"),
            pl.Series(TONE_COLUMN, first_tone + second_tone + price_tone, dtype=pl.Float64),
            pl.Series(SENTIMENT_COLUMN, sentiment, dtype=pl.Float64),
        )


@dataclass(frozen=True, slots=True)
class _Posts:
    frame: pl.DataFrame
    day: IntArray
    draw: IntArray
    published: IntArray
    post_id: pl.Series


class _Writer:
    """Chooses tones and phrasings for a batch of texts, one column at a time."""

    def __init__(
        self,
        draws: _Draws,
        sentiment: FloatArray,
        price: FloatArray,
        sensitivity: float,
        symbol: str,
        market: SyntheticMarket,
    ) -> None:
        self.draws = draws
        self.price = price
        self.bullish_chance = 1.0 / (1.0 + np.exp(-sensitivity * sentiment))
        self.alias_series = pl.Series(market.profile(symbol).aliases, dtype=pl.String)
        self.rows = len(sentiment)

    def tones(self, slot: str) -> NDArray[np.int64]:
        u = self.draws(f"{slot}-tone")
        leaning = (u - NEUTRAL_SHARE) / (1.0 - NEUTRAL_SHARE)
        return np.where(
            u < NEUTRAL_SHARE,
            NEUTRAL,
            np.where(leaning < self.bullish_chance, BULLISH, BEARISH),
        ).astype(np.int64)

    def templated(
        self, slot: str, templates: Templates, present: NDArray[np.bool_] | None = None
    ) -> tuple[pl.Series, FloatArray]:
        """One templated sentence per row (null where absent) and its tone score (+1/-1/0).

        Each slot draws its tone, phrasing and coin name from separate streams, so the
        choices are independent of each other.
        """
        tone = self.tones(slot)
        alias = (self.draws(f"{slot}-alias") * len(self.alias_series)).astype(np.int64)
        fill = self.alias_series.gather(alias)
        offsets = np.asarray(templates.offsets)[tone]
        counts = np.asarray(templates.counts)[tone]
        pick = offsets + (self.draws(slot) * counts).astype(np.int64)
        mask = np.ones(self.rows, dtype=bool) if present is None else present
        parts = pl.DataFrame(
            {
                "before": templates.before.gather(pick),
                "after": templates.after.gather(pick),
                "has_slot": templates.has_slot.gather(pick),
                "fill": fill,
                "present": mask,
            }
        )
        # A coin named at the start of a sentence is capitalised ("bitcoin" -> "Bitcoin").
        named = (
            pl.when(pl.col("before") == "")
            .then(
                pl.concat_str(
                    [pl.col("fill").str.head(1).str.to_uppercase(), pl.col("fill").str.slice(1)]
                )
            )
            .otherwise(pl.col("fill"))
        )
        text = parts.select(
            pl.when(~pl.col("present"))
            .then(None)
            .when(pl.col("has_slot"))
            .then(pl.concat_str([pl.col("before"), named, pl.col("after")]))
            .otherwise(pl.concat_str(["before", "after"]))
        ).to_series()
        return text, _tone_scores(tone, mask)

    def priced(self, present: NDArray[np.bool_]) -> tuple[pl.Series, FloatArray]:
        """A sentence quoting a price level on the side its tone leans to."""
        tone = self.tones("price")  # draws "price-tone"
        move = 0.03 + 0.2 * self.draws("price-move")
        level = self.price * np.where(
            tone == BULLISH, 1.0 + move, np.where(tone == BEARISH, 1.0 - move, 1.0)
        )
        offsets = np.asarray(PRICE_TEMPLATES.offsets)[tone]
        counts = np.asarray(PRICE_TEMPLATES.counts)[tone]
        pick = offsets + (self.draws("price-pick") * counts).astype(np.int64)
        prices = format_prices(level[present]) if present.any() else pl.Series([], dtype=pl.String)
        fill = pl.Series([None] * self.rows, dtype=pl.String).scatter(
            np.flatnonzero(present), prices
        )
        parts = pl.DataFrame(
            {
                "before": PRICE_TEMPLATES.before.gather(pick),
                "after": PRICE_TEMPLATES.after.gather(pick),
                "fill": fill,
            }
        )
        text = parts.select(pl.concat_str(["before", "fill", "after"])).to_series()
        return text, _tone_scores(tone, present)

    def pick(self, slot: str, choices: pl.Series, present: NDArray[np.bool_]) -> pl.Series:
        index = (self.draws(slot) * len(choices)).astype(np.int64)
        chosen = pl.DataFrame({"chosen": choices.gather(index), "present": present})
        return chosen.select(
            pl.when(pl.col("present")).then(pl.col("chosen")).otherwise(None)
        ).to_series()

    def authors(self, slot: str) -> pl.Series:
        # Squaring the uniform makes a few accounts write much more than the rest.
        index = (self.draws(slot) ** 2 * AUTHOR_POOL_SIZE).astype(np.int64)
        return author_pool(self.draws.seed).gather(index)


def _tone_scores(tone: NDArray[np.int64], present: NDArray[np.bool_]) -> FloatArray:
    """+1 per bullish sentence, -1 per bearish one, 0 for neutral or absent ones."""
    score: FloatArray = np.where(tone == BULLISH, 1.0, np.where(tone == BEARISH, -1.0, 0.0))
    return score * present


def _padded(numbers: IntArray) -> pl.Expr:
    return pl.lit(pl.Series(numbers, dtype=pl.Int64)).cast(pl.String).str.zfill(3)


def _padded_expr(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.zfill(3)


def _join(parts: list[pl.Series]) -> pl.Series:
    return pl.select(
        pl.concat_str([pl.lit(p) for p in parts], separator=" ", ignore_nulls=True)
    ).to_series()


def _finish(frame: pl.DataFrame, symbol: str, latency_seconds: float) -> pl.DataFrame:
    latency = pl.duration(microseconds=round(latency_seconds * MICROS_PER_SECOND))
    frame = with_provenance(frame, symbol).with_columns(available_at=pl.col("ts") + latency)
    key = "post_id" if "title" in frame.columns else "comment_id"
    return frame.with_columns(fetched_at=pl.col("available_at")).sort(["ts", key])


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={**schema, TONE_COLUMN: pl.Float64(), SENTIMENT_COLUMN: pl.Float64()}
    )
