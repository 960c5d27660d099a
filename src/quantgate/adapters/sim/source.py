"""The synthetic market and text sources: the lake's view of one synthetic world.

`fetch_*` serve the full data, planted gaps included — that is what a backfill
finds when it asks the source again. `initial_*` serve what `quantgate data
generate` writes first: the same data with the planted gaps left out.
`fetched_at` equals `available_at` (see frames.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantgate.adapters.sim.config import SyntheticMarketConfig
from quantgate.adapters.sim.frames import SOURCE_NAME
from quantgate.adapters.sim.gaps import BarGap, SocialGap
from quantgate.adapters.sim.oracle import planted_expected_return
from quantgate.adapters.sim.timegrid import MICROS_PER_HOUR, time_column, to_micros
from quantgate.adapters.sim.world import SyntheticWorld, world_for
from quantgate.core.clock import ensure_utc
from quantgate.core.enums import Horizon
from quantgate.core.errors import ConfigurationError
from quantgate.data.schema import (
    BARS_1H,
    BOOKS,
    COMMENTS,
    DATASETS,
    POSTS,
    bars_dataset_name,
    conform,
)
from quantgate.data.sources.base import MarketSource, SourceCoverage, TextSource

SPEC_KIND = "synthetic"


def spec_for(config: SyntheticMarketConfig) -> dict[str, Any]:
    return {"kind": SPEC_KIND, "name": SOURCE_NAME, **config.model_dump(mode="json")}


def config_from_spec(spec: dict[str, Any]) -> SyntheticMarketConfig:
    if spec.get("kind") != SPEC_KIND:
        raise ConfigurationError(
            f"spec kind {spec.get('kind')!r} is not {SPEC_KIND!r}",
            field="spec.kind",
            fix=f"use kind {SPEC_KIND!r} for the synthetic source",
        )
    values = {k: v for k, v in spec.items() if k not in ("kind", "name")}
    config = SyntheticMarketConfig.parse(values, where="synthetic source spec")
    assert isinstance(config, SyntheticMarketConfig)
    return config


class _SyntheticSource:
    """What both synthetic sources share: a resolved config and its world."""

    name = SOURCE_NAME

    def __init__(
        self, config: SyntheticMarketConfig | None = None, *, now: datetime | None = None
    ) -> None:
        self.config = (config or SyntheticMarketConfig()).resolved(now)
        self.world: SyntheticWorld = world_for(self.config)

    @property
    def spec(self) -> dict[str, Any]:
        return spec_for(self.config)

    def symbols(self) -> list[str]:
        return list(self.config.symbols)

    def coverage(self, symbol: str) -> SourceCoverage:
        self.world.market.require_symbol(symbol)
        return SourceCoverage(symbol, self.world.coverage_start(symbol), self.config.resolved_end)

    def planted_social_gaps(self) -> list[SocialGap]:
        return self.world.social_gaps()

    def manifest(self) -> dict[str, Any]:
        """JSON-able description of the data and its planted effects and gaps."""
        return self.world.manifest(self.spec)


class SyntheticMarketSource(_SyntheticSource, MarketSource):
    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SyntheticMarketSource:
        return cls(config_from_spec(spec))

    def fetch_bars(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> pl.DataFrame:
        frame = self.world.bars(symbol, ensure_utc(start), ensure_utc(end), timeframe)
        return conform(frame, DATASETS[bars_dataset_name(timeframe)], origin=SOURCE_NAME)

    def fetch_books(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Level-2 snapshots, one per second, with start <= ts < end (short windows only)."""
        frame = self.world.books.fetch(symbol, ensure_utc(start), ensure_utc(end))
        return conform(frame, BOOKS, origin=SOURCE_NAME)

    def initial_bars(self, symbol: str) -> pl.DataFrame:
        """Hourly bars as first written by `data generate`: planted gaps left out."""
        self.world.market.require_symbol(symbol)
        return conform(self.world.initial_bars(symbol), BARS_1H, origin=SOURCE_NAME)

    def planted_bar_gaps(self) -> list[BarGap]:
        return self.world.bar_gaps()

    def oracle_ic(self) -> dict[str, float]:
        """Spearman IC of the planted expected return vs the realised forward log return."""
        return dict(self.world.oracle_ic)

    def planted_signal(self, symbol: str, horizon: Horizon) -> pl.DataFrame:
        """The planted expected log return close(t) -> close(t + h), per bar close t.

        Columns: `decision_at` (the bar's close, when the signal is known), `sentiment`,
        `idio_shock` and `expected_return`. For research and tests: it is the oracle.
        """
        market = self.world.market
        path = market.path(symbol)
        closes = (
            to_micros(self.config.start)
            + (np.arange(len(path), dtype=np.int64) + path.first_hour + 1) * MICROS_PER_HOUR
        )
        return pl.DataFrame(
            [
                time_column("decision_at", closes),
                pl.Series("sentiment", path.sentiment),
                pl.Series("idio_shock", path.idio_shock),
                pl.Series("expected_return", planted_expected_return(market, path, horizon.hours)),
            ]
        )


class SyntheticTextSource(_SyntheticSource, TextSource):
    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SyntheticTextSource:
        return cls(config_from_spec(spec))

    def coverage(self, symbol: str) -> SourceCoverage:
        # Text is generated per calendar day from the listing day on.
        covered = super().coverage(symbol)
        day = covered.start.replace(hour=0, minute=0, second=0, microsecond=0)
        return SourceCoverage(symbol, day, covered.end)

    def fetch_posts(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        texts = self.world.texts(symbol, ensure_utc(start), ensure_utc(end))
        return conform(texts.posts, POSTS, origin=SOURCE_NAME)

    def fetch_comments(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        texts = self.world.texts(symbol, ensure_utc(start), ensure_utc(end))
        return conform(texts.comments, COMMENTS, origin=SOURCE_NAME)

    def initial_posts(self, symbol: str) -> pl.DataFrame:
        """Posts as first written by `data generate`: planted social-gap days left out."""
        self.world.market.require_symbol(symbol)
        return conform(self.world.initial_texts(symbol).posts, POSTS, origin=SOURCE_NAME)

    def initial_comments(self, symbol: str) -> pl.DataFrame:
        """Comments as first written by `data generate`: planted social-gap days left out."""
        self.world.market.require_symbol(symbol)
        return conform(self.world.initial_texts(symbol).comments, COMMENTS, origin=SOURCE_NAME)
