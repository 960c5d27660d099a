"""Completeness audit: expected versus present bars and social days, per symbol and source.

A gap is a run of missing slots (hourly bars, or days without any post or
comment). A gap the owning source was asked for again and had nothing for is a
confirmed source gap and no longer counts against `history_window_complete`;
every other gap counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantgate.data.catalog import BARS_FAMILY, SOCIAL_FAMILY, Catalog, Coverage
from quantgate.data.intervals import Interval, expected_end, missing_runs, subtract
from quantgate.data.schema import BARS_1H, COMMENTS, POSTS
from quantgate.storage.lake import Lake

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
MIN_COMMENT_RATIO = 10.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _iso(value: int) -> str:
    return from_us(value).isoformat().replace("+00:00", "Z")


@dataclass
class SeriesGap:
    start: int
    end: int
    slots: int
    confirmed: bool
    evidence: dict[str, Any] | None = None

    def as_json(self, unit: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "start": _iso(self.start),
            "end": _iso(self.end),
            unit: self.slots,
        }
        if self.evidence is not None:
            payload["evidence"] = self.evidence
        return payload


@dataclass
class SeriesAudit:
    family: str
    source: str
    symbol: str
    start: int
    end: int
    expected: int
    present: int
    duplicates: int = 0
    out_of_order: int = 0
    off_grid: int = 0
    gaps: list[SeriesGap] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unconfirmed(self) -> list[SeriesGap]:
        return [g for g in self.gaps if not g.confirmed]

    @property
    def confirmed(self) -> list[SeriesGap]:
        return [g for g in self.gaps if g.confirmed]


@dataclass(frozen=True)
class AuditRequest:
    start: datetime
    end: datetime
    symbols: tuple[str, ...]


def _split_gaps(
    runs: list[Interval],
    confirmed: list[tuple[datetime, datetime, dict[str, Any]]],
    period: int,
) -> list[SeriesGap]:
    ranges = [(to_us(s), to_us(e)) for s, e, _ in confirmed]
    evidence = {(to_us(s), to_us(e)): ev for s, e, ev in confirmed}
    gaps: list[SeriesGap] = []
    for run in runs:
        covered, uncovered = subtract(run, ranges)
        for piece in covered:
            source_range = next(r for r in ranges if r[0] <= piece[0] and piece[1] <= r[1])
            gaps.append(
                SeriesGap(*piece, (piece[1] - piece[0]) // period, True, evidence[source_range])
            )
        gaps.extend(
            SeriesGap(*piece, (piece[1] - piece[0]) // period, False) for piece in uncovered
        )
    return sorted(gaps, key=lambda g: g.start)


def _stored_order_stats(ts: np.ndarray, period: int) -> tuple[int, int, int]:
    duplicates = int(ts.size - np.unique(ts).size)
    out_of_order = int(np.count_nonzero(np.diff(ts) < 0)) if ts.size > 1 else 0
    off_grid = int(np.count_nonzero(ts % period))
    return duplicates, out_of_order, off_grid


def _series_bounds(
    request: AuditRequest, coverage: Coverage | None, first_present: int | None, period: int
) -> tuple[int, int]:
    start_at = to_us(request.start)
    listed = to_us(coverage.start) if coverage is not None else first_present
    if listed is not None:
        start_at = max(start_at, listed)
    start_at = -(-start_at // period) * period  # the first whole slot
    bound = to_us(request.end)
    if coverage is not None and coverage.end is not None:
        bound = min(bound, to_us(coverage.end))
    return start_at, expected_end(start_at, bound, period)


def audit_bars(lake: Lake, catalog: Catalog, request: AuditRequest) -> list[SeriesAudit]:
    lazy = lake.scan(BARS_1H.name, request.symbols)
    frame = (
        lazy.select("source", "symbol", pl.col("ts").dt.epoch("us").alias("t")).collect()
        if lazy is not None
        else pl.DataFrame(schema={"source": pl.String, "symbol": pl.String, "t": pl.Int64})
    )
    coverage = catalog.coverage(BARS_FAMILY)
    confirmed = catalog.confirmed_gaps(BARS_FAMILY)
    series: dict[tuple[str, str], np.ndarray] = {
        (str(source), str(symbol)): part["t"].to_numpy()
        for (source, symbol), part in frame.group_by(["source", "symbol"], maintain_order=True)
    }
    for source, symbol in coverage:
        if symbol in request.symbols:
            series.setdefault((source, symbol), np.empty(0, dtype=np.int64))
    audits = []
    for (source, symbol), ts in sorted(series.items()):
        duplicates, out_of_order, off_grid = _stored_order_stats(ts, HOUR_US)
        unique = np.unique(ts[ts % HOUR_US == 0])
        first = int(unique[0]) if unique.size else None
        start, end = _series_bounds(request, coverage.get((source, symbol)), first, HOUR_US)
        present = int(np.count_nonzero((unique >= start) & (unique < end)))
        runs = missing_runs(unique, start, end, HOUR_US)
        audits.append(
            SeriesAudit(
                BARS_FAMILY,
                source,
                symbol,
                start,
                end,
                max(0, (end - start) // HOUR_US),
                present,
                duplicates,
                out_of_order,
                off_grid,
                _split_gaps(runs, confirmed.get((source, symbol), []), HOUR_US),
            )
        )
    return audits


def _daily_counts(lake: Lake, dataset: str, symbols: tuple[str, ...]) -> pl.DataFrame:
    lazy = lake.scan(dataset, symbols)
    if lazy is None:
        return pl.DataFrame(
            schema={"source": pl.String, "symbol": pl.String, "day": pl.Int64, "n": pl.UInt32}
        )
    return (
        lazy.select(
            "source", "symbol", (pl.col("ts").dt.epoch("us") // DAY_US * DAY_US).alias("day")
        )
        .group_by(["source", "symbol", "day"])
        .agg(pl.len().alias("n"))
        .collect()
    )


def _per_day_stats(counts: np.ndarray, expected_days: int) -> dict[str, float]:
    """Mean over every expected day (days without rows count as zero), min and max."""
    if expected_days <= 0:
        return {"mean": 0.0, "min": 0, "max": 0}
    observed_min = int(counts.min()) if counts.size else 0
    return {
        "mean": round(float(counts.sum()) / expected_days, 3),
        "min": observed_min if counts.size >= expected_days else 0,
        "max": int(counts.max()) if counts.size else 0,
    }


def audit_social(lake: Lake, catalog: Catalog, request: AuditRequest) -> list[SeriesAudit]:
    posts = _daily_counts(lake, POSTS.name, request.symbols).rename({"n": "posts"})
    comments = _daily_counts(lake, COMMENTS.name, request.symbols).rename({"n": "comments"})
    daily = posts.join(
        comments, on=["source", "symbol", "day"], how="full", coalesce=True
    ).fill_null(0)
    coverage = catalog.coverage(SOCIAL_FAMILY)
    confirmed = catalog.confirmed_gaps(SOCIAL_FAMILY)
    keys = {(str(s), str(y)) for s, y in daily.select("source", "symbol").unique().iter_rows()}
    keys |= {key for key in coverage if key[1] in request.symbols}
    audits = []
    for source, symbol in sorted(keys):
        part = daily.filter((pl.col("source") == source) & (pl.col("symbol") == symbol)).sort("day")
        days = part["day"].to_numpy()
        start, end = _series_bounds(
            request, coverage.get((source, symbol)), int(days[0]) if days.size else None, DAY_US
        )
        in_window = part.filter((pl.col("day") >= start) & (pl.col("day") < end))
        with_text = in_window.filter((pl.col("posts") + pl.col("comments")) > 0)["day"].to_numpy()
        runs = missing_runs(np.unique(with_text), start, end, DAY_US)
        n_posts, n_comments = int(in_window["posts"].sum()), int(in_window["comments"].sum())
        audit = SeriesAudit(
            SOCIAL_FAMILY,
            source,
            symbol,
            start,
            end,
            max(0, (end - start) // DAY_US),
            int(with_text.size),
            gaps=_split_gaps(runs, confirmed.get((source, symbol), []), DAY_US),
        )
        audit.extra = {
            "posts": n_posts,
            "comments": n_comments,
            "comment_ratio": round(n_comments / n_posts, 4) if n_posts else 0.0,
            "posts_per_day": _per_day_stats(in_window["posts"].to_numpy(), audit.expected),
            "comments_per_day": _per_day_stats(in_window["comments"].to_numpy(), audit.expected),
        }
        audits.append(audit)
    return audits


def _series_json(audit: SeriesAudit, unit: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "symbol": audit.symbol,
        "source": audit.source,
        "start": _iso(audit.start),
        "end": _iso(audit.end),
        f"expected_{unit}": audit.expected,
        f"present_{unit}": audit.present,
        f"missing_{unit}": sum(g.slots for g in audit.unconfirmed),
        f"confirmed_missing_{unit}": sum(g.slots for g in audit.confirmed),
        "gaps": [g.as_json(unit) for g in audit.unconfirmed],
        "confirmed_gaps": [g.as_json(unit) for g in audit.confirmed],
    }
    if audit.family == BARS_FAMILY:
        payload |= {
            "duplicates": audit.duplicates,
            "out_of_order": audit.out_of_order,
            "off_grid": audit.off_grid,
        }
    return payload | audit.extra


def run_audit(lake: Lake, catalog: Catalog, request: AuditRequest) -> dict[str, Any]:
    """The audit report; `passed` only when the history is complete and comments ≥ 10× posts."""
    bars = audit_bars(lake, catalog, request)
    social = audit_social(lake, catalog, request)
    missing_bars = sum(g.slots for a in bars for g in a.unconfirmed)
    missing_days = sum(g.slots for a in social for g in a.unconfirmed)
    posts = sum(a.extra["posts"] for a in social)
    comments = sum(a.extra["comments"] for a in social)
    ratio = comments / posts if posts else 0.0
    complete = bool(bars) and missing_bars == 0 and missing_days == 0
    ratio_ok = ratio >= MIN_COMMENT_RATIO
    summary = {
        "history_window_complete": complete,
        "comment_ratio_ge_10x": ratio_ok,
        "missing_bars": missing_bars,
        "gap_count": sum(len(a.unconfirmed) for a in bars),
        "confirmed_missing_bars": sum(g.slots for a in bars for g in a.confirmed),
        "confirmed_gap_count": sum(len(a.confirmed) for a in bars),
        "expected_bars": sum(a.expected for a in bars),
        "present_bars": sum(a.present for a in bars),
        "duplicates": sum(a.duplicates for a in bars),
        "out_of_order": sum(a.out_of_order for a in bars),
        "missing_social_days": missing_days,
        "social_gap_count": sum(len(a.unconfirmed) for a in social),
        "confirmed_missing_social_days": sum(g.slots for a in social for g in a.confirmed),
        "posts": posts,
        "comments": comments,
        "comment_ratio": round(ratio, 4),
        "window_start": request.start.isoformat(),
        "window_end": request.end.isoformat(),
        "symbols": list(request.symbols),
        "symbols_without_bars": sorted(set(request.symbols) - {a.symbol for a in bars}),
        "symbols_without_social": sorted(set(request.symbols) - {a.symbol for a in social}),
    }
    return {
        "passed": complete and ratio_ok,
        "summary": summary,
        "bars": [_series_json(a, "bars") for a in bars],
        "social": [_series_json(a, "days") for a in social],
    }
