"""The data-quality gate: find bad bars, quarantine them with a reason, change nothing else.

Checks: OHLC consistency (low ≤ open, close ≤ high), volume ≥ 0, positive and
finite prices, price spikes (a close that differs from both neighbours by more
than the threshold, in opposite directions: a print that reverts, unlike a real
level shift), and stale series (last bar older than `stale_periods` bar periods).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from quantgate.config.base import ComponentConfig
from quantgate.data.schema import BARS_1H, UTC_TIME
from quantgate.storage.lake import Lake

QUARANTINE = "quarantine"
_PRICES = ("open", "high", "low", "close")


class QualityConfig(ComponentConfig):
    jump_threshold: float = 0.25  # absolute log return against each neighbour
    stale_periods: int = 2
    examples_per_reason: int = 5


def _flags(frame: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """One boolean column per reason, computed per (source, symbol) series in ts order."""
    finite = pl.all_horizontal([pl.col(c).is_finite() for c in (*_PRICES, "volume")])
    log_close = pl.col("close").log()
    over = ["source", "symbol"]
    back = log_close - log_close.shift(1).over(over, order_by="ts")
    ahead = log_close.shift(-1).over(over, order_by="ts") - log_close
    return frame.with_columns(
        (~finite.fill_null(False)).alias("non_finite"),
        (pl.min_horizontal(list(_PRICES)) <= 0).fill_null(False).alias("non_positive_price"),
        (
            (pl.col("low") > pl.min_horizontal("open", "close"))
            | (pl.col("high") < pl.max_horizontal("open", "close"))
        )
        .fill_null(False)
        .alias("ohlc_inconsistent"),
        (pl.col("volume") < 0).fill_null(False).alias("negative_volume"),
        ((back.abs() > threshold) & (ahead.abs() > threshold) & (back.sign() != ahead.sign()))
        .fill_null(False)
        .alias("price_jump"),
    )


REASONS = ("non_finite", "non_positive_price", "ohlc_inconsistent", "negative_volume", "price_jump")


def run_quality(
    lake: Lake,
    symbols: tuple[str, ...] | None,
    asof: datetime,
    config: QualityConfig = QualityConfig(),
) -> dict[str, Any]:
    """Check every stored hourly bar; quarantine the bad ones; `passed` only when clean."""
    bars = lake.read(BARS_1H.name, symbols)
    detected_at = datetime.now(UTC)
    if bars.is_empty():
        return {
            "passed": False,
            "summary": {
                "rows_checked": 0,
                "bad_rows": 0,
                "by_reason": {},
                "stale_series": 0,
                "quarantined": 0,
                "reason": "no bars in the lake",
                "asof": asof.isoformat(),
            },
            "series": [],
        }
    flagged = _flags(bars, config.jump_threshold)
    bad = flagged.filter(pl.any_horizontal(list(REASONS)))
    quarantine = (
        bad.unpivot(
            index=BARS_1H.columns, on=list(REASONS), variable_name="reason", value_name="hit"
        )
        .filter(pl.col("hit"))
        .drop("hit")
        .with_columns(
            pl.lit(BARS_1H.name).alias("dataset"),
            pl.lit(detected_at).cast(UTC_TIME).alias("detected_at"),
        )
    )
    if not quarantine.is_empty():
        lake.upsert(QUARANTINE, quarantine, key=["dataset", "source", "symbol", "ts", "reason"])
    period = timedelta(hours=1)
    series = []
    for (source, symbol), part in flagged.group_by(["source", "symbol"], maintain_order=True):
        last: datetime = part["ts"].max()  # type: ignore[assignment]
        stale = last + period * (1 + config.stale_periods) <= asof
        issues = {reason: int(part[reason].sum()) for reason in REASONS if part[reason].any()}
        examples = {
            reason: [
                t.isoformat()
                for t in part.filter(pl.col(reason))["ts"].head(config.examples_per_reason)
            ]
            for reason in issues
        }
        series.append(
            {
                "source": source,
                "symbol": symbol,
                "rows": part.height,
                "last_bar": last.isoformat(),
                "stale": stale,
                "issues": issues,
                "examples": examples,
            }
        )
    by_reason = {r: int(flagged[r].sum()) for r in REASONS}
    stale_count = sum(1 for s in series if s["stale"])
    summary = {
        "rows_checked": bars.height,
        "bad_rows": bad.height,
        "by_reason": by_reason,
        "stale_series": stale_count,
        "quarantined": quarantine.height,
        "asof": asof.isoformat(),
        "jump_threshold": config.jump_threshold,
        "config_hash": config.config_hash,
    }
    return {
        "passed": bad.height == 0 and stale_count == 0,
        "summary": summary,
        "series": sorted(series, key=lambda s: (s["symbol"], s["source"])),
    }
