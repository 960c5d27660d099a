"""Feeds yield events in (available_at, symbol) order; the lake feed picks sources and
records what it read."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from engine_builders import HOUR, PUBLICATION, START, bars, frame

from quantgate.core import ConfigurationError, Horizon, Prediction
from quantgate.data.ingest import ingest_bars
from quantgate.engine.feeds import (
    _EPOCH,
    FrameBarFeed,
    LakeBarFeed,
    QueueFeed,
    _UtcMoments,
    bars_digest,
)
from quantgate.engine.ports import MarketEvent
from quantgate.storage import Lake


def prediction(symbol: str, asof: datetime) -> Prediction:
    return Prediction(symbol, asof, {Horizon.H1: 0.01}, {Horizon.H1: 0.6}, {Horizon.H1: 0.02})


def test_events_group_bars_by_availability_then_symbol() -> None:
    bar_frame = frame(bars("BBB", [1, 2, 3]), bars("AAA", [4, 5, 6], skip=(1,)))
    events = list(FrameBarFeed(bar_frame).events())
    assert [e.at for e in events] == [START + i * HOUR + HOUR + PUBLICATION for i in range(3)]
    assert [[b.symbol for b in e.bars] for e in events] == [["AAA", "BBB"], ["BBB"], ["AAA", "BBB"]]
    first = events[0].bars[0]
    assert (first.ts, first.available_at, first.close) == (START, START + HOUR + PUBLICATION, 4.0)
    assert first.ts.tzinfo is UTC
    resumed = list(FrameBarFeed(bar_frame).events(after=events[0].at))
    assert [e.at for e in resumed] == [e.at for e in events[1:]]


def test_moments_stepped_from_the_last_one_equal_moments_made_from_the_epoch() -> None:
    # Even gaps, a weekend, a step back, a repeat, sub-second gaps and a jump back to 1970.
    micros = [0, 3_600_000_000, 7_200_000_000, 10_800_000_000, 190_800_000_000]
    micros += [187_200_000_000, 187_200_000_000, 187_200_000_001, 187_200_999_999, 5, 1]
    moments = _UtcMoments()
    for value in micros:
        made = moments(value)
        expected = _EPOCH + timedelta(microseconds=value)
        assert made == expected and made.tzinfo is UTC and repr(made) == repr(expected)


def test_predictions_come_after_the_bars_of_their_time() -> None:
    bar_frame = frame(bars("AAA", [1, 2]))
    known = START + HOUR + PUBLICATION
    between = known + HOUR / 2
    feed = FrameBarFeed(
        bar_frame, predictions=[prediction("AAA", between), prediction("AAA", known)]
    )
    events = list(feed.events())
    assert [(e.at, len(e.bars), len(e.predictions)) for e in events] == [
        (known, 1, 1),
        (between, 0, 1),
        (known + HOUR, 1, 0),
    ]
    assert [e.at for e in feed.events(after=known)] == [between, known + HOUR]


def test_duplicate_bars_are_refused() -> None:
    rows = bars("AAA", [1, 2])
    with pytest.raises(Exception, match="two bars for AAA"):
        FrameBarFeed(frame(rows, rows))


def _lake_frame(rows: list[dict[str, object]], source: str) -> pl.DataFrame:
    return frame(rows).with_columns(
        pl.lit(source).alias("source"), pl.col("available_at").alias("fetched_at")
    )


def test_lake_feed_picks_the_source_with_most_bars_and_hashes_its_input(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    ingest_bars(lake, _lake_frame(bars("AAA", [1, 2, 3, 4]), "long"), origin="t")
    ingest_bars(lake, _lake_frame(bars("AAA", [9, 9], start=START + HOUR), "short"), origin="t")
    ingest_bars(lake, _lake_frame(bars("BBB", [7, 8]), "short"), origin="t")
    end = START + 10 * HOUR
    feed = LakeBarFeed(lake, ["AAA", "BBB"], START, end)
    assert feed.sources == {"AAA": "long", "BBB": "short"}
    closes = [(b.symbol, b.close) for e in feed.events() for b in e.bars]
    assert closes == [
        ("AAA", 1.0),
        ("BBB", 7.0),
        ("AAA", 2.0),
        ("BBB", 8.0),
        ("AAA", 3.0),
        ("AAA", 4.0),
    ]
    assert sorted(feed.partitions) == [
        "bars_1h/symbol=AAA/year=2024/data.parquet",
        "bars_1h/symbol=BBB/year=2024/data.parquet",
    ]
    assert len(feed.manifest_hash) == 64
    assert LakeBarFeed(lake, ["AAA", "BBB"], START, end).manifest_hash == feed.manifest_hash
    forced = LakeBarFeed(lake, ["AAA"], START, end, source="short")
    assert [b.close for e in forced.events() for b in e.bars] == [9.0, 9.0]
    window = LakeBarFeed(lake, ["AAA"], START + HOUR, START + 3 * HOUR)
    assert [b.close for e in window.events() for b in e.bars] == [2.0, 3.0]
    with pytest.raises(ConfigurationError, match="no bars_1h bars for \\['CCC'\\]"):
        LakeBarFeed(lake, ["AAA", "CCC"], START, end)


def test_the_lake_feed_manifest_hash_tells_which_bars_were_read(tmp_path: Path) -> None:
    """Two windows over the same partition files are different data: their hashes differ
    (before, the hash covered the files only), while the same bars hash alike."""
    lake = Lake(tmp_path / "lake")
    ingest_bars(lake, _lake_frame(bars("AAA", [1, 2, 3, 4, 5, 6]), "long"), origin="t")
    whole = LakeBarFeed(lake, ["AAA"], START, START + 6 * HOUR)
    shorter = LakeBarFeed(lake, ["AAA"], START, START + 3 * HOUR)
    assert whole.partitions == shorter.partitions
    assert whole.manifest_hash != shorter.manifest_hash
    assert whole.describe()["manifest_hash"] == whole.manifest_hash
    # The same bars read again (a window that reaches past the last bar): the same hash.
    again = LakeBarFeed(lake, ["AAA"], START, START + 9 * HOUR)
    assert (again.bars_sha256, again.manifest_hash) == (whole.bars_sha256, whole.manifest_hash)
    # The digest is of the values, independent of row order and of the frame's layout.
    reordered = whole.frame.reverse().select(reversed(whole.frame.columns))
    assert bars_digest(reordered) == whole.bars_sha256
    changed = whole.frame.with_columns(pl.col("close") * 1.0000001)
    assert bars_digest(changed) != whole.bars_sha256


def test_queue_feed_skips_replays_and_ends_on_close() -> None:
    feed = QueueFeed(["AAA"])
    times = [START + i * HOUR for i in range(3)]

    def produce() -> None:
        for at in (times[0], times[1], times[1], times[0], times[2]):
            feed.put(MarketEvent(at))
        feed.close()

    producer = threading.Thread(target=produce)
    producer.start()
    assert [e.at for e in feed.events()] == times
    producer.join()


def test_predictions_before_between_and_after_the_bars_are_events_of_their_own() -> None:
    bar_frame = frame(bars("AAA", [1, 2]))
    first = START + HOUR + PUBLICATION
    times = [START, first, first + HOUR / 2, first + HOUR, first + 5 * HOUR]
    feed = FrameBarFeed(bar_frame, predictions=[prediction("AAA", t) for t in times])
    events = list(feed.events())
    assert [(e.at, len(e.bars), len(e.predictions)) for e in events] == [
        (START, 0, 1),
        (first, 1, 1),
        (first + HOUR / 2, 0, 1),
        (first + HOUR, 1, 1),
        (first + 5 * HOUR, 0, 1),
    ]
    assert feed.event_count() == len(events)
    assert [e.at for e in feed.events(after=first + HOUR / 2)] == times[3:]
