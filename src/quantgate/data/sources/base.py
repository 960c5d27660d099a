"""The source adapter interface every market and text source implements.

A source is rebuilt from its `spec` (a JSON-able dict stored with the data it
wrote), so remediation can go back to the source that owns a series and ask it
again for exactly the missing range.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl


@dataclass(frozen=True, slots=True)
class SourceCoverage:
    """What a source claims to hold for one symbol: the span the audit should expect."""

    symbol: str
    start: datetime  # first expected bar/day (the listing date for a market)
    end: datetime | None  # exclusive; None = up to the audit window's end


class MarketSource(ABC):
    """Serves bars (and optionally order books) in the lake's schema (see data.schema)."""

    name: str

    @property
    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description from which `data.sources.registry` rebuilds this source."""

    @abstractmethod
    def symbols(self) -> list[str]:
        """Symbols this source can serve."""

    @abstractmethod
    def coverage(self, symbol: str) -> SourceCoverage:
        """The span this source holds for `symbol` (listing date onwards)."""

    @abstractmethod
    def fetch_bars(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> pl.DataFrame:
        """Bars with `start <= ts < end`, conforming to data.schema.BAR_SCHEMA, sorted by ts.

        An empty frame means the source has nothing for that range: that is the
        evidence for a confirmed source gap. A transient failure raises
        TemporaryError instead, so it is never mistaken for an empty answer.
        """


class TextSource(ABC):
    """Serves posts and comments in the lake's schema (data.schema.POSTS / COMMENTS)."""

    name: str

    @property
    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description from which `data.sources.registry` rebuilds this source."""

    @abstractmethod
    def symbols(self) -> list[str]:
        """Symbols this source has text about."""

    @abstractmethod
    def coverage(self, symbol: str) -> SourceCoverage:
        """The span of days this source holds text for `symbol`."""

    @abstractmethod
    def fetch_posts(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Posts about `symbol` with `start <= ts < end`, conforming to POSTS."""

    @abstractmethod
    def fetch_comments(self, symbol: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Comments about `symbol` with `start <= ts < end`, conforming to COMMENTS."""
