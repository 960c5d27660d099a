"""Level-2 books: structure, consistency with the minute path, the planted imbalance effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource, book_imbalance
from quantgate.adapters.sim.books import tick_size
from quantgate.core import ConfigurationError
from quantgate.data.schema import BOOK_LEVELS, BOOKS

END = datetime(2018, 7, 1, tzinfo=UTC)
A = datetime(2018, 5, 20, 9, tzinfo=UTC)
B = A + timedelta(hours=3)


@pytest.fixture(scope="module")
def source() -> SyntheticMarketSource:
    return SyntheticMarketSource(SyntheticMarketConfig(end=END))


@pytest.fixture(scope="module")
def books(source: SyntheticMarketSource) -> pl.DataFrame:
    return source.fetch_books("ETHUSDT", A, B)


def _side(frame: pl.DataFrame, kind: str) -> np.ndarray:
    return np.column_stack([frame[f"{kind}_{k}"].to_numpy() for k in range(1, BOOK_LEVELS + 1)])


def test_one_snapshot_per_second_in_the_schema(books: pl.DataFrame) -> None:
    assert books.schema == pl.Schema(BOOKS.schema)
    assert len(books) == 3 * 3600
    assert books["ts"][0] == A and books["ts"][-1] == B - timedelta(seconds=1)
    assert (books["ts"].diff().drop_nulls() == timedelta(seconds=1)).all()
    assert (books["available_at"] > books["ts"]).all()


def test_levels_are_monotone_on_tick_with_a_positive_spread(books: pl.DataFrame) -> None:
    bid_px, ask_px = _side(books, "bid_px"), _side(books, "ask_px")
    assert (np.diff(bid_px, axis=1) < 0).all()
    assert (np.diff(ask_px, axis=1) > 0).all()
    assert (_side(books, "bid_sz") > 0).all() and (_side(books, "ask_sz") > 0).all()
    tick = tick_size(np.array([bid_px[0, 0]]))[0]
    assert (ask_px[:, 0] - bid_px[:, 0] >= tick * (1 - 1e-9)).all()
    on_tick = np.abs(bid_px / tick - np.round(bid_px / tick))
    assert on_tick.max() < 1e-6


def test_the_mid_stays_inside_each_minute_bar(
    source: SyntheticMarketSource, books: pl.DataFrame
) -> None:
    minutes = source.fetch_bars("ETHUSDT", A, B, "1m")
    joined = books.with_columns(minute=pl.col("ts").dt.truncate("1m")).join(
        minutes.select(pl.col("ts").alias("minute"), "open", "high", "low"), on="minute"
    )
    assert len(joined) == len(books)
    half_spread = (joined["ask_px_1"] - joined["bid_px_1"]) / 2
    mid = (joined["ask_px_1"] + joined["bid_px_1"]) / 2
    assert (mid >= joined["low"] - half_spread).all()
    assert (mid <= joined["high"] + half_spread).all()
    # The first second of every minute sits at the minute's open.
    first = joined.filter(pl.col("ts") == pl.col("minute"))
    assert ((first["bid_px_1"] <= first["open"]) & (first["open"] <= first["ask_px_1"])).all()


def test_imbalance_weakly_predicts_the_next_minutes(source: SyntheticMarketSource) -> None:
    correlations: dict[int, list[float]] = {60: [], 300: []}
    for symbol in ("BTCUSDT", "XRPUSDT"):
        for day in (3, 17):
            start = datetime(2018, 6, day, 9, tzinfo=UTC)
            frame = source.fetch_books(symbol, start, start + timedelta(hours=2))
            imbalance = book_imbalance(frame).to_numpy()
            mid = ((frame["ask_px_1"] + frame["bid_px_1"]) / 2).to_numpy()
            for seconds, found in correlations.items():
                forward = np.log(mid[seconds:] / mid[:-seconds])
                found.append(np.corrcoef(imbalance[:-seconds], forward)[0, 1])
    # Weak but real: positive on average, stronger at the planted 5-minute horizon.
    assert 0.0 < np.mean(correlations[60]) < np.mean(correlations[300]) < 0.3
    assert np.mean(correlations[300]) > 0.05


def test_books_are_prefix_stable(source: SyntheticMarketSource, books: pl.DataFrame) -> None:
    a = A + timedelta(minutes=47, seconds=13)
    part = source.fetch_books("ETHUSDT", a, a + timedelta(minutes=5))
    assert part.equals(
        books.filter((pl.col("ts") >= a) & (pl.col("ts") < a + timedelta(minutes=5)))
    )
    later = SyntheticMarketSource(SyntheticMarketConfig(end=datetime(2019, 1, 1, tzinfo=UTC)))
    assert later.fetch_books("ETHUSDT", A, B).equals(books)


def test_long_windows_are_refused(source: SyntheticMarketSource) -> None:
    with pytest.raises(ConfigurationError):
        source.fetch_books("ETHUSDT", A, A + timedelta(days=2))


def test_no_books_before_listing_or_after_the_end(source: SyntheticMarketSource) -> None:
    assert source.fetch_books("SOLUSDT", A, B).is_empty()
    tail = source.fetch_books("ETHUSDT", END - timedelta(minutes=1), END + timedelta(hours=1))
    assert len(tail) == 60
