"""Remediation: ask the source that owns each unconfirmed gap for it again, then re-audit.

Whatever the source returns is ingested; slots it had nothing for become
confirmed source gaps with the request as evidence. Nothing is ever invented: a
gap is either filled with the source's own rows or confirmed missing at the
source. Temporary failures leave the gap unconfirmed for the next round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import structlog

from quantgate.core.errors import DataError, TemporaryError
from quantgate.data.audit import DAY_US, HOUR_US, AuditRequest, from_us, run_audit, to_us
from quantgate.data.catalog import BARS_FAMILY, SOCIAL_FAMILY, Catalog, GapRange
from quantgate.data.ingest import ingest_bars, ingest_comments, ingest_posts
from quantgate.data.intervals import missing_runs
from quantgate.data.sources.base import MarketSource, TextSource
from quantgate.data.sources.registry import market_source_from_spec, text_source_from_spec
from quantgate.storage.lake import Lake

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class GapOutcome:
    family: str
    source: str
    symbol: str
    start: str
    end: str
    missing: int
    filled: int = 0
    confirmed: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RoundReport:
    round: int
    gaps: list[GapOutcome] = field(default_factory=list)
    audit_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def filled(self) -> int:
        return sum(g.filled for g in self.gaps)

    @property
    def confirmed(self) -> int:
        return sum(g.confirmed for g in self.gaps)

    def as_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "gaps_attempted": len(self.gaps),
            "filled": self.filled,
            "confirmed_source_gaps": self.confirmed,
            "not_filled": [g.as_json() for g in self.gaps if g.filled + g.confirmed < g.missing],
            "gaps": [g.as_json() for g in self.gaps],
            "audit_after": self.audit_summary,
        }


def _evidence(source: str, request: dict[str, Any], returned: int) -> dict[str, Any]:
    return {
        "source": source,
        "request": request,
        "returned_rows": returned,
        "checked_at": datetime.now(UTC).isoformat(),
    }


def _confirm_runs(
    catalog: Catalog,
    family: str,
    source: str,
    symbol: str,
    runs: list[tuple[int, int]],
    evidence: dict[str, Any],
    period: int,
) -> int:
    confirmed = 0
    for start, end in runs:
        if catalog.confirm_gap(
            GapRange(family, source, symbol, from_us(start), from_us(end)), evidence
        ):
            confirmed += (end - start) // period
    return confirmed


class Remediator:
    def __init__(self, lake: Lake, catalog: Catalog) -> None:
        self.lake = lake
        self.catalog = catalog
        self._specs = catalog.sources()
        self._market_sources: dict[str, MarketSource] = {}
        self._text_sources: dict[str, TextSource] = {}
        # Rows fetched during a round, written once at its end: one rewrite per partition.
        self._pending_bars: list[pl.DataFrame] = []
        self._pending_posts: list[pl.DataFrame] = []
        self._pending_comments: list[pl.DataFrame] = []

    def _write_pending(self) -> None:
        for frames, write in (
            (self._pending_bars, ingest_bars),
            (self._pending_posts, ingest_posts),
            (self._pending_comments, ingest_comments),
        ):
            if frames:
                merged = pl.concat(frames, how="vertical").unique(maintain_order=True)
                write(self.lake, merged, origin="remediation backfill")
                frames.clear()

    def _market_source(self, name: str) -> MarketSource:
        if name not in self._market_sources:
            self._market_sources[name] = market_source_from_spec(self._specs[name])
        return self._market_sources[name]

    def _text_source(self, name: str) -> TextSource:
        if name not in self._text_sources:
            self._text_sources[name] = text_source_from_spec(self._specs[name])
        return self._text_sources[name]

    def _fill_bar_gap(self, gap: dict[str, Any], source_name: str, symbol: str) -> GapOutcome:
        outcome = GapOutcome(
            BARS_FAMILY, source_name, symbol, gap["start"], gap["end"], gap["bars"]
        )
        spec = self._specs.get(source_name)
        if spec is None:
            outcome.error = f"no registered source {source_name!r} owns this series"
            return outcome
        start, end = datetime.fromisoformat(gap["start"]), datetime.fromisoformat(gap["end"])
        source = self._market_source(source_name)
        frame = source.fetch_bars(symbol, start, end, "1h")
        frame = frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
        if not frame.is_empty():
            self._pending_bars.append(frame)
            outcome.filled = frame.height
        got = (
            np.unique(frame["ts"].dt.epoch("us").to_numpy())
            if frame.height
            else np.empty(0, np.int64)
        )
        still_missing = missing_runs(got.astype(np.int64), to_us(start), to_us(end), HOUR_US)
        request = {"symbol": symbol, "start": gap["start"], "end": gap["end"], "timeframe": "1h"}
        outcome.confirmed = _confirm_runs(
            self.catalog,
            BARS_FAMILY,
            source_name,
            symbol,
            still_missing,
            _evidence(source_name, request, frame.height),
            HOUR_US,
        )
        return outcome

    def _fill_social_gap(self, gap: dict[str, Any], source_name: str, symbol: str) -> GapOutcome:
        outcome = GapOutcome(
            SOCIAL_FAMILY, source_name, symbol, gap["start"], gap["end"], gap["days"]
        )
        spec = self._specs.get(source_name)
        if spec is None:
            outcome.error = f"no registered source {source_name!r} owns this series"
            return outcome
        start, end = datetime.fromisoformat(gap["start"]), datetime.fromisoformat(gap["end"])
        source = self._text_source(source_name)
        posts = source.fetch_posts(symbol, start, end)
        comments = source.fetch_comments(symbol, start, end)
        filled_days: set[int] = set()
        if not posts.is_empty():
            self._pending_posts.append(posts)
            filled_days |= set((posts["ts"].dt.epoch("us") // DAY_US * DAY_US).to_list())
        if not comments.is_empty():
            self._pending_comments.append(comments)
            filled_days |= set((comments["ts"].dt.epoch("us") // DAY_US * DAY_US).to_list())
        outcome.filled = len(filled_days)
        still_missing = missing_runs(
            np.array(sorted(filled_days), dtype=np.int64), to_us(start), to_us(end), DAY_US
        )
        request = {
            "symbol": symbol,
            "start": gap["start"],
            "end": gap["end"],
            "kind": "posts+comments",
        }
        outcome.confirmed = _confirm_runs(
            self.catalog,
            SOCIAL_FAMILY,
            source_name,
            symbol,
            still_missing,
            _evidence(source_name, request, posts.height + comments.height),
            DAY_US,
        )
        return outcome

    def _attempt(self, family: str, series: dict[str, Any], gap: dict[str, Any]) -> GapOutcome:
        source, symbol = series["source"], series["symbol"]
        try:
            if family == BARS_FAMILY:
                return self._fill_bar_gap(gap, source, symbol)
            return self._fill_social_gap(gap, source, symbol)
        except (TemporaryError, DataError) as error:
            kind = "temporary" if isinstance(error, TemporaryError) else "data"
            slots = gap["bars"] if family == BARS_FAMILY else gap["days"]
            outcome = GapOutcome(family, source, symbol, gap["start"], gap["end"], slots)
            outcome.error = f"{kind}: {error}"
            log.warning("gap not filled", source=source, symbol=symbol, error=outcome.error)
            return outcome

    def run(
        self,
        request: AuditRequest,
        max_rounds: int,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        rounds: list[RoundReport] = []
        audit = run_audit(self.lake, self.catalog, request)
        initial = audit["summary"]
        for number in range(1, max_rounds + 1):
            if audit["passed"]:
                break
            work = [(BARS_FAMILY, s, g) for s in audit["bars"] for g in s["gaps"]]
            work += [(SOCIAL_FAMILY, s, g) for s in audit["social"] for g in s["gaps"]]
            if not work:
                break  # what is left (e.g. the comment ratio) cannot be fixed by a backfill
            report = RoundReport(number)
            for index, (family, series, gap) in enumerate(work, start=1):
                report.gaps.append(self._attempt(family, series, gap))
                if progress is not None:
                    progress(index, len(work))
            self._write_pending()
            audit = run_audit(self.lake, self.catalog, request)
            report.audit_summary = audit["summary"]
            rounds.append(report)
            if report.filled == 0 and report.confirmed == 0:
                break  # no progress possible this way; say so rather than spin
        return {
            "passed": audit["passed"],
            "rounds": [r.as_json() for r in rounds],
            "initial_summary": initial,
            "final_audit": audit,
        }
