"""One synthetic world per resolved config: market, minute paths, books, social text, gaps.

Both sources of a config share one world (and its cached paths), so text and
bars agree and a source rebuilt from its spec does not generate everything again.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache, cached_property, lru_cache
from typing import Any

import numpy as np
import polars as pl

from quantgate.adapters.sim.bars import hourly_bars, one_minute_bars
from quantgate.adapters.sim.books import BookGenerator
from quantgate.adapters.sim.config import HOUR, SyntheticMarketConfig
from quantgate.adapters.sim.gaps import (
    MAX_RUN_HOURS,
    BarGap,
    SocialGap,
    planted_bar_gaps,
    planted_social_gaps,
)
from quantgate.adapters.sim.market import SyntheticMarket
from quantgate.adapters.sim.oracle import IC_METHOD, oracle_ic
from quantgate.adapters.sim.social import SocialGenerator, Texts
from quantgate.core.errors import ProgrammerError
from quantgate.data.schema import bars_dataset_name

GENERATOR_VERSION = 1  # bump whenever a change to the code changes generated values


class SyntheticWorld:
    def __init__(self, config: SyntheticMarketConfig) -> None:
        if config.end is None:
            raise ProgrammerError("SyntheticWorld needs a resolved config (end set)")
        self.config = config
        self.market = SyntheticMarket(config)
        self.social = SocialGenerator(self.market)
        self.books = BookGenerator(self.market)
        self._bar_gaps = cache(self._symbol_bar_gaps)

    def coverage_start(self, symbol: str) -> datetime:
        return self.config.start + timedelta(hours=self.market.first_hour(symbol))

    def bars(self, symbol: str, start: datetime, end: datetime, timeframe: str) -> pl.DataFrame:
        bars_dataset_name(timeframe)  # refuses unknown timeframes
        self.market.require_symbol(symbol)
        if timeframe == "1m":
            return one_minute_bars(self.market, symbol, start, end)
        return hourly_bars(self.market, symbol, start, end)

    def texts(self, symbol: str, start: datetime, end: datetime) -> Texts:
        return self.social.fetch(symbol, start, end)

    def _symbol_bar_gaps(self, symbol: str) -> tuple[BarGap, ...]:
        return tuple(planted_bar_gaps(self.market, symbol))

    def bar_gaps(self, symbol: str | None = None) -> list[BarGap]:
        symbols = self.config.symbols if symbol is None else (symbol,)
        return [gap for s in symbols for gap in self._bar_gaps(s)]

    @cached_property
    def _social_gaps(self) -> dict[str, tuple[SocialGap, ...]]:
        return {s: tuple(planted_social_gaps(self.market, s)) for s in self.config.symbols}

    def social_gaps(self, symbol: str | None = None) -> list[SocialGap]:
        symbols = self.config.symbols if symbol is None else (symbol,)
        return [gap for s in symbols for gap in self._social_gaps[s]]

    def initial_bars(self, symbol: str) -> pl.DataFrame:
        """All hourly bars of `symbol` except those in planted gaps."""
        frame = hourly_bars(self.market, symbol, self.config.start, self.config.resolved_end)
        first = self.coverage_start(symbol)
        present = np.ones(len(frame), dtype=bool)
        for gap in self.bar_gaps(symbol):
            # Row j of the full frame is the bar opening j hours after the first one.
            present[(gap.start - first) // HOUR : (gap.end - first) // HOUR] = False
        return frame.filter(pl.Series(present))

    def initial_texts(self, symbol: str) -> Texts:
        """All text about `symbol` except on planted social-gap days."""
        texts = self.texts(symbol, self.config.start, self.config.resolved_end)
        gap_days = [gap.day for gap in self.social_gaps(symbol)]
        if not gap_days:
            return texts
        kept = ~pl.col("ts").dt.date().is_in(gap_days)
        return Texts(texts.posts.filter(kept), texts.comments.filter(kept))

    @cached_property
    def oracle_ic(self) -> dict[str, float]:
        return oracle_ic(self.market)

    def manifest(self, spec: dict[str, Any]) -> dict[str, Any]:
        """What was generated and what was planted in it, for `<lake>/synthetic/manifest.json`."""
        config = self.config
        bar_gaps = self.bar_gaps()
        social_gaps = self.social_gaps()
        bar_count = sum(len(self.market.path(s)) for s in config.symbols)
        gap_hours = sum(gap.hours for gap in bar_gaps)
        return {
            "generator": "quantgate.adapters.sim",
            "generator_version": GENERATOR_VERSION,
            "spec": spec,
            "config": config.model_dump(mode="json"),
            "config_hash": config.config_hash,
            "symbols": {
                s: {
                    "bucket": str(self.market.profile(s).bucket),
                    "first_bar": self.coverage_start(s).isoformat(),
                    "end": config.resolved_end.isoformat(),
                    "bars": len(self.market.path(s)),
                }
                for s in config.symbols
            },
            # NaN (too little data for a horizon) is not JSON: written as null.
            "oracle_ic": {
                h: None if math.isnan(v) else round(v, 4) for h, v in self.oracle_ic.items()
            },
            "oracle_ic_method": IC_METHOD,
            "planted_bar_gaps": [
                {"symbol": g.symbol, "start": g.start.isoformat(), "end": g.end.isoformat()}
                for g in bar_gaps
            ],
            "planted_bar_gap_hours": gap_hours,
            "planted_bar_gap_fraction": round(gap_hours / bar_count, 6) if bar_count else 0.0,
            "planted_social_gaps": [
                {"symbol": g.symbol, "day": g.day.isoformat()} for g in social_gaps
            ],
            "effects": describe_effects(config),
            "provenance": (
                "fetched_at equals available_at: the data is a pure function of the config, "
                "so re-ingesting it is idempotent"
            ),
        }


def describe_effects(config: SyntheticMarketConfig) -> list[str]:
    half_life = config.sentiment_half_life_hours
    return [
        "Hourly log returns = market factor (GARCH(1,1) volatility, jumps, calm/stress "
        "Markov regime changing drift and volatility) x beta + bucket factor (GARCH) + "
        "idiosyncratic shock (GARCH) + idiosyncratic jumps + the two planted terms below.",
        f"Sentiment drift: each symbol has a latent sentiment S (AR(1), unit variance, "
        f"half-life {half_life:g} h). S at a bar's close is known then and raises the "
        f"expected log return of every later hour by {config.sentiment_drift:g} x the "
        f"symbol's hourly volatility x S, decaying with that half-life.",
        f"Short-term reversal: the next hour's expected log return falls by "
        f"{config.reversal:g} x the last hour's idiosyncratic shock.",
        f"Social text: every listed day has 1 + Poisson posts (more when |S| is large, "
        f"{config.posts_per_day_base:g} extra a day on average) and Poisson("
        f"{config.comments_per_post:g}) comments per post; each sentence is bullish or "
        f"bearish with log-odds {config.tone_sensitivity:g} x S (S known at publication) "
        f"or neutral, so a text model can recover S.",
        f"Order books (on request): the top-3-level size imbalance leans towards the mid's "
        f"move over the next {config.book_imbalance_horizon_seconds} s "
        f"(weight {config.book_imbalance_signal:g}).",
        f"Planted gaps: about {config.gap_fraction:g} of hourly bars in runs of 1-"
        f"{MAX_RUN_HOURS} h and {config.social_gap_fraction:g} of symbol-days of social "
        f"text are left out of the initial data; fetching the source returns them.",
    ]


@lru_cache(maxsize=4)
def world_for(config: SyntheticMarketConfig) -> SyntheticWorld:
    """The shared world of a resolved config (configs are frozen, so hashable)."""
    return SyntheticWorld(config)
