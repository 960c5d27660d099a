"""Planted gaps: the bars and social days `data generate` leaves out on purpose.

Bar gaps are placed chunk by chunk (the market's CHUNK_HOURS), each chunk from
its own generator: about `gap_fraction` of the chunk's hours, in runs of 1 to 12
hours spread uniformly, never touching the chunk's first or last hour (so runs in
neighbouring chunks never merge). Runs that would touch a symbol's first or last
bar, or reach before its listing, are dropped. Social gaps are whole
symbol-days, each independently with probability `social_gap_fraction`, never
the listing day or the last day. Both are deterministic by seed and, like the
data, do not move when the configured end moves (except at the very end).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np

from quantgate.adapters.sim.market import CHUNK_HOURS, SyntheticMarket
from quantgate.adapters.sim.randomness import chunk_rng, hashed_uniforms, stream_key

MAX_RUN_HOURS = 12


class BarGap(NamedTuple):
    """Hourly bars of `symbol` with start <= ts < end are missing from the initial data."""

    symbol: str
    start: datetime
    end: datetime  # exclusive

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / timedelta(hours=1))


class SocialGap(NamedTuple):
    """No post or comment about `symbol` published on `day` is in the initial data."""

    symbol: str
    day: date


def _chunk_runs(rng: np.random.Generator, gap_hours: int) -> list[tuple[int, int]]:
    """(offset, length) runs totalling gap_hours inside a chunk's interior, separated."""
    lengths: list[int] = []
    while sum(lengths) < gap_hours:
        lengths.append(min(int(rng.integers(1, MAX_RUN_HOURS + 1)), gap_hours - sum(lengths)))
    interior = CHUNK_HOURS - 2
    # Lay the runs out with at least one present hour between them and spread the
    # remaining free hours uniformly over the k + 1 spaces around them.
    free = interior - sum(lengths) - max(len(lengths) - 1, 0)
    spaces = np.sort(rng.integers(0, free + 1, size=len(lengths)))
    runs, cursor = [], 1
    for index, (space, length) in enumerate(zip(spaces.tolist(), lengths, strict=True)):
        start = cursor + space - (int(spaces[index - 1]) if index else 0)
        runs.append((start, length))
        cursor = start + length + 1
    return runs


def planted_bar_gaps(market: SyntheticMarket, symbol: str) -> list[BarGap]:
    config = market.config
    fraction = config.gap_fraction
    first, end = market.first_hour(symbol), market.total_hours
    if fraction <= 0 or end - first < 3:
        return []
    gap_hours = round(fraction * (CHUNK_HOURS - 2))
    gaps = []
    for chunk in range(first // CHUNK_HOURS, -(-end // CHUNK_HOURS)):
        rng = chunk_rng(config.seed, f"gaps/{symbol}", chunk)
        for offset, length in _chunk_runs(rng, gap_hours):
            run_start = chunk * CHUNK_HOURS + offset
            run_end = run_start + length
            # Keep the symbol's first and last bars, so its span stays visible.
            if run_start <= first or run_end >= end:
                continue
            gaps.append(
                BarGap(
                    symbol,
                    config.start + timedelta(hours=run_start),
                    config.start + timedelta(hours=run_end),
                )
            )
    return gaps


def planted_social_gaps(market: SyntheticMarket, symbol: str) -> list[SocialGap]:
    config = market.config
    fraction = config.social_gap_fraction
    first_day = market.first_hour(symbol) // 24
    last_day = (market.total_hours - 1) // 24
    if fraction <= 0 or last_day - first_day < 2:
        return []
    days = np.arange(first_day + 1, last_day, dtype=np.int64)
    chosen = hashed_uniforms(stream_key(config.seed, "social-gaps", symbol), days) < fraction
    start = config.start.date()
    return [SocialGap(symbol, start + timedelta(days=int(d))) for d in days[chosen]]
