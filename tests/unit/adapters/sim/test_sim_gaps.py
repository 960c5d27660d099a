"""Planted gaps: where they are, how much, and that the initial data leaves exactly them out."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource, SyntheticTextSource

START = datetime(2018, 1, 1, tzinfo=UTC)
END = datetime(2018, 9, 1, tzinfo=UTC)
CONFIG = SyntheticMarketConfig(
    end=END, gap_fraction=0.05, symbols=("BTCUSDT", "XRPUSDT", "ADAUSDT")
)


@pytest.fixture(scope="module")
def source() -> SyntheticMarketSource:
    return SyntheticMarketSource(CONFIG)


def test_bar_gaps_are_short_disjoint_runs_inside_the_listed_span(
    source: SyntheticMarketSource,
) -> None:
    gaps = source.planted_bar_gaps()
    assert gaps
    for symbol in source.symbols():
        runs = sorted(g for g in gaps if g.symbol == symbol)
        coverage = source.coverage(symbol)
        last_bar = coverage.end - timedelta(hours=1)
        for gap in runs:
            assert 1 <= gap.hours <= 12
            assert gap.start > coverage.start  # never the first bar
            assert gap.end <= last_bar  # never the last bar
            assert gap.start.minute == 0 and gap.start.second == 0
        for before, after in itertools.pairwise(runs):
            assert before.end < after.start  # disjoint and not adjacent


def test_bar_gap_total_is_close_to_the_configured_fraction(source: SyntheticMarketSource) -> None:
    bars = sum(len(source.fetch_bars(s, START, END)) for s in source.symbols())
    gap_hours = sum(g.hours for g in source.planted_bar_gaps())
    assert gap_hours / bars == pytest.approx(0.05, rel=0.15)


def test_initial_bars_leave_out_exactly_the_planted_gaps(source: SyntheticMarketSource) -> None:
    for symbol in source.symbols():
        full = source.fetch_bars(symbol, START, END)
        initial = source.initial_bars(symbol)
        in_gap = pl.lit(False)
        for gap in source.planted_bar_gaps():
            if gap.symbol == symbol:
                in_gap = in_gap | ((pl.col("ts") >= gap.start) & (pl.col("ts") < gap.end))
        assert initial.equals(full.filter(~in_gap))
        hours = sum(g.hours for g in source.planted_bar_gaps() if g.symbol == symbol)
        assert len(full) - len(initial) == hours
        # A backfill asking the source for a gap gets the bars back.
        gap = next(g for g in source.planted_bar_gaps() if g.symbol == symbol)
        assert len(source.fetch_bars(symbol, gap.start, gap.end)) == gap.hours


def test_gaps_are_deterministic_and_do_not_move_with_the_end(source: SyntheticMarketSource) -> None:
    again = SyntheticMarketSource(
        CONFIG.model_copy(update={"end": datetime(2019, 6, 1, tzinfo=UTC)})
    )
    early = [g for g in source.planted_bar_gaps() if g.end < END - timedelta(days=31)]
    later = [g for g in again.planted_bar_gaps() if g.end < END - timedelta(days=31)]
    assert early == later
    assert SyntheticMarketSource(CONFIG.model_copy(update={"seed": 99})).planted_bar_gaps() != (
        source.planted_bar_gaps()
    )


def test_no_gaps_by_default() -> None:
    source = SyntheticMarketSource(
        CONFIG.model_copy(update={"gap_fraction": 0.0, "social_gap_fraction": 0.0})
    )
    assert source.planted_bar_gaps() == [] and source.planted_social_gaps() == []
    assert source.initial_bars("BTCUSDT").equals(source.fetch_bars("BTCUSDT", START, END))


def test_social_gap_days_are_empty_in_the_initial_text_only() -> None:
    text = SyntheticTextSource(CONFIG.model_copy(update={"social_gap_fraction": 0.1}))
    gaps = text.planted_social_gaps()
    listed_days = sum((END - text.coverage(s).start).days for s in text.symbols())
    assert len(gaps) / listed_days == pytest.approx(0.1, rel=0.3)
    for symbol in text.symbols():
        gap_days = {g.day for g in gaps if g.symbol == symbol}
        assert text.coverage(symbol).start.date() not in gap_days
        posts, comments = text.initial_posts(symbol), text.initial_comments(symbol)
        full_posts = text.fetch_posts(symbol, START, END)
        full_comments = text.fetch_comments(symbol, START, END)
        post_days = set(posts["ts"].dt.date().to_list())
        assert not post_days & gap_days
        assert not set(comments["ts"].dt.date().to_list()) & gap_days
        # Every other listed day still has a post; the gap days have some in the source.
        listed = {
            (text.coverage(symbol).start + timedelta(days=d)).date()
            for d in range((END - text.coverage(symbol).start).days)
        }
        assert post_days == listed - gap_days
        assert set(full_posts["ts"].dt.date().to_list()) == listed
        assert len(full_posts) > len(posts) and len(full_comments) > len(comments)
