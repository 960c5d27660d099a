from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from quantgate.data.ingest import ingest_bars
from quantgate.data.quality import QUARANTINE, QualityConfig, run_quality
from quantgate.storage import Lake

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def bar_frame(closes: list[float], symbol: str = "BTCUSDT") -> pl.DataFrame:
    n = len(closes)
    ts = [T0 + timedelta(hours=i) for i in range(n)]
    opens = [closes[0], *closes[:-1]]
    return pl.DataFrame(
        {
            "source": ["test"] * n,
            "symbol": [symbol] * n,
            "ts": ts,
            "available_at": [t + timedelta(hours=1) for t in ts],
            "open": opens,
            "high": [max(o, c) * 1.01 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) * 0.99 for o, c in zip(opens, closes, strict=True)],
            "close": closes,
            "volume": [10.0] * n,
            "fetched_at": ts,
        }
    )


def test_clean_series_passes(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    ingest_bars(
        lake, bar_frame([100, 101, 102, 150, 151, 152]), origin="test"
    )  # a real level shift
    report = run_quality(lake, None, asof=T0 + timedelta(hours=7))
    assert report["passed"], report
    assert report["summary"]["rows_checked"] == 6


def test_bad_rows_are_quarantined_with_reason_and_bars_untouched(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    frame = bar_frame([100, 101, 180, 102, 103, 104])  # a spike that reverts
    frame = frame.with_columns(
        pl.when(pl.arange(0, 6) == 4).then(-1.0).otherwise(pl.col("volume")).alias("volume"),
        pl.when(pl.arange(0, 6) == 5).then(50.0).otherwise(pl.col("high")).alias("high"),
    )
    ingest_bars(lake, frame, origin="test")
    before = lake.read("bars_1h")
    report = run_quality(lake, None, asof=T0 + timedelta(hours=7), config=QualityConfig())
    assert not report["passed"]
    assert report["summary"]["by_reason"] == {
        "non_finite": 0,
        "non_positive_price": 0,
        "ohlc_inconsistent": 1,
        "negative_volume": 1,
        "price_jump": 1,
    }
    quarantined = lake.read(QUARANTINE).sort("ts")
    assert quarantined.select("ts", "reason").rows() == [
        (T0 + timedelta(hours=2), "price_jump"),
        (T0 + timedelta(hours=4), "negative_volume"),
        (T0 + timedelta(hours=5), "ohlc_inconsistent"),
    ]
    assert lake.read("bars_1h").equals(before)  # nothing changed silently


def test_stale_series_fails_the_gate(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    ingest_bars(lake, bar_frame([100, 101, 102]), origin="test")
    fresh = run_quality(lake, None, asof=T0 + timedelta(hours=4, minutes=59))
    stale = run_quality(lake, None, asof=T0 + timedelta(hours=5))
    assert fresh["passed"] and not stale["passed"]
    assert stale["series"][0]["stale"] is True


def test_empty_lake_does_not_pass(tmp_path: Path) -> None:
    report = run_quality(Lake(tmp_path), None, asof=T0)
    assert report["passed"] is False and report["summary"]["reason"] == "no bars in the lake"
