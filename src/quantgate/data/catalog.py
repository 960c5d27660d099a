"""What the database knows about the lake: sources, their coverage, confirmed gaps, runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantgate.core.errors import ConfigurationError
from quantgate.data.sources.base import MarketSource, TextSource
from quantgate.storage.models import (
    AuditRun,
    ConfirmedSourceGap,
    DataSourceRow,
    QualityRun,
    SourceCoverageRow,
)

BARS_FAMILY = "bars_1h"
SOCIAL_FAMILY = "social"


@dataclass(frozen=True, slots=True)
class Coverage:
    source: str
    family: str
    symbol: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class GapRange:
    family: str
    source: str
    symbol: str
    start: datetime
    end: datetime  # exclusive


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register_source(self, spec: dict[str, Any]) -> None:
        name, kind = spec.get("name"), spec.get("kind")
        if not name or not kind:
            raise ConfigurationError("a source spec needs 'name' and 'kind'", field="spec")
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            row = session.get(DataSourceRow, name)
            if row is None:
                session.add(
                    DataSourceRow(name=name, kind=kind, spec=spec, created_at=now, updated_at=now)
                )
            else:
                row.kind, row.spec, row.updated_at = kind, spec, now

    def register_with_coverage(self, source: MarketSource | TextSource, family: str) -> None:
        """Register `source` and record the span it claims per symbol (what the audit expects)."""
        self.register_source(source.spec)
        spans = [source.coverage(symbol) for symbol in source.symbols()]
        self.set_coverage(Coverage(source.name, family, c.symbol, c.start, c.end) for c in spans)

    def source_spec(self, name: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.get(DataSourceRow, name)
            return dict(row.spec) if row is not None else None

    def sources(self) -> dict[str, dict[str, Any]]:
        with Session(self.engine) as session:
            return {row.name: dict(row.spec) for row in session.scalars(select(DataSourceRow))}

    def set_coverage(self, coverages: Iterable[Coverage]) -> None:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            for coverage in coverages:
                session.merge(
                    SourceCoverageRow(
                        source=coverage.source,
                        family=coverage.family,
                        symbol=coverage.symbol,
                        start=coverage.start,
                        end=coverage.end,
                        updated_at=now,
                    )
                )

    def coverage(self, family: str) -> dict[tuple[str, str], Coverage]:
        """(source, symbol) → coverage for one dataset family."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(SourceCoverageRow).where(SourceCoverageRow.family == family)
            )
            return {
                (r.source, r.symbol): Coverage(r.source, r.family, r.symbol, r.start, r.end)
                for r in rows
            }

    def confirm_gap(self, gap: GapRange, evidence: dict[str, Any]) -> bool:
        """Record a confirmed source gap; False when that exact range was already confirmed."""
        with Session(self.engine) as session, session.begin():
            existing = session.scalar(
                select(ConfirmedSourceGap).where(
                    ConfirmedSourceGap.family == gap.family,
                    ConfirmedSourceGap.source == gap.source,
                    ConfirmedSourceGap.symbol == gap.symbol,
                    ConfirmedSourceGap.gap_start == gap.start,
                    ConfirmedSourceGap.gap_end == gap.end,
                )
            )
            if existing is not None:
                return False
            session.add(
                ConfirmedSourceGap(
                    family=gap.family,
                    source=gap.source,
                    symbol=gap.symbol,
                    gap_start=gap.start,
                    gap_end=gap.end,
                    evidence=evidence,
                    confirmed_at=datetime.now(UTC),
                )
            )
            return True

    def confirmed_gaps(
        self, family: str
    ) -> dict[tuple[str, str], list[tuple[datetime, datetime, dict[str, Any]]]]:
        """(source, symbol) → sorted confirmed ranges with their evidence."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(ConfirmedSourceGap)
                .where(ConfirmedSourceGap.family == family)
                .order_by(ConfirmedSourceGap.gap_start)
            )
            found: dict[tuple[str, str], list[tuple[datetime, datetime, dict[str, Any]]]] = {}
            for row in rows:
                found.setdefault((row.source, row.symbol), []).append(
                    (row.gap_start, row.gap_end, dict(row.evidence))
                )
            return found

    def record_audit(self, run_id: str, report: dict[str, Any]) -> int:
        summary = report["summary"]
        with Session(self.engine) as session, session.begin():
            row = AuditRun(
                run_id=run_id,
                created_at=datetime.now(UTC),
                window_start=datetime.fromisoformat(summary["window_start"]),
                window_end=datetime.fromisoformat(summary["window_end"]),
                symbols={"symbols": summary["symbols"]},
                history_window_complete=summary["history_window_complete"],
                comment_ratio_ge_10x=summary["comment_ratio_ge_10x"],
                passed=report["passed"],
                summary=summary,
                report=report,
            )
            session.add(row)
            session.flush()
            return row.id

    def last_audit(self) -> AuditRun | None:
        with Session(self.engine) as session:
            return session.scalar(select(AuditRun).order_by(AuditRun.id.desc()).limit(1))

    def record_quality(self, run_id: str, report: dict[str, Any]) -> int:
        with Session(self.engine) as session, session.begin():
            row = QualityRun(
                run_id=run_id,
                created_at=datetime.now(UTC),
                passed=report["passed"],
                summary=report["summary"],
                report=report,
            )
            session.add(row)
            session.flush()
            return row.id
