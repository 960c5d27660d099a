"""`quantgate data`: generate, import, backfill, audit, remediate and the quality gate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from quantgate.cli.context import CliContext, console, emit_json, get_context, progress_bar
from quantgate.cli.options import parse_symbols, parse_utc
from quantgate.data.audit import AuditRequest, run_audit
from quantgate.data.catalog import Catalog
from quantgate.data.quality import QualityConfig, run_quality
from quantgate.data.remediate import Remediator
from quantgate.data.schema import BARS_1H

app = typer.Typer(
    help="Market and social data: sources, lake, audit, remediation, quality gate.",
    no_args_is_help=True,
)

DEFAULT_AUDIT_START = "2018-01-01T00:00:00Z"


def _catalog(cli: CliContext) -> Catalog:
    return Catalog(cli.migrated_engine())


def _default_symbols(cli: CliContext) -> tuple[str, ...]:
    in_lake = cli.lake.symbols(BARS_1H.name)
    return tuple(in_lake) if in_lake else cli.settings.universe


def _finish(payload: dict[str, Any], as_json: bool, headline: str) -> None:
    if as_json:
        emit_json(payload)
    else:
        colour = "green" if payload["passed"] else "red"
        console.print(f"[{colour}]{headline}: {'PASSED' if payload['passed'] else 'NOT PASSED'}")
    if not payload["passed"]:
        raise typer.Exit(1)


def print_audit_summary(summary: dict[str, Any]) -> None:
    console.print(
        f"bars: {summary['present_bars']:,}/{summary['expected_bars']:,} present, "
        f"{summary['missing_bars']:,} missing in {summary['gap_count']} gaps "
        f"(+{summary['confirmed_missing_bars']:,} in {summary['confirmed_gap_count']} confirmed "
        f"source gaps); social: {summary['posts']:,} posts, {summary['comments']:,} comments "
        f"(ratio {summary['comment_ratio']:.2f}), "
        f"{summary['missing_social_days']} days without data"
    )


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="comma-separated; default: symbols in the lake"),
    start: str = typer.Option(DEFAULT_AUDIT_START, help="window start (UTC ISO-8601)"),
    end: str = typer.Option("now", help="window end (UTC ISO-8601 or 'now')"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Completeness audit: expected vs present bars and social days; exit 0 only when complete."""
    cli = get_context(ctx)
    catalog = _catalog(cli)
    request = AuditRequest(
        parse_utc(start, "--start"),
        parse_utc(end, "--end"),
        parse_symbols(symbols) or _default_symbols(cli),
    )
    report = run_audit(cli.lake, catalog, request)
    report["audit_id"] = catalog.record_audit(cli.run_id, report)
    if not as_json:
        print_audit_summary(report["summary"])
    _finish(report, as_json, "completeness audit")


def _last_audit_request(cli: CliContext, catalog: Catalog) -> AuditRequest:
    last = catalog.last_audit()
    if last is None:
        return AuditRequest(
            parse_utc(DEFAULT_AUDIT_START, "--start"), datetime.now(UTC), _default_symbols(cli)
        )
    return AuditRequest(last.window_start, last.window_end, tuple(last.symbols["symbols"]))


@app.command("remediate")
def remediate_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="default: those of the last audit"),
    start: str | None = typer.Option(None, help="default: the last audit's window start"),
    end: str | None = typer.Option(None, help="default: the last audit's window end"),
    max_rounds: int = typer.Option(3, help="backfill + re-audit rounds at most"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Backfill every gap from the source that owns it; re-audit; exit 0 when the audit passes."""
    cli = get_context(ctx)
    catalog = _catalog(cli)
    last = _last_audit_request(cli, catalog)
    request = AuditRequest(
        parse_utc(start, "--start") if start else last.start,
        parse_utc(end, "--end") if end else last.end,
        parse_symbols(symbols) or last.symbols,
    )
    with progress_bar() as bar:
        task = bar.add_task("remediating gaps", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = Remediator(cli.lake, catalog).run(request, max_rounds, advance)
    report["audit_id"] = catalog.record_audit(cli.run_id, report["final_audit"])
    if not as_json:
        for round_report in report["rounds"]:
            console.print(
                f"round {round_report['round']}: {round_report['gaps_attempted']} gaps, "
                f"{round_report['filled']} slots filled, "
                f"{round_report['confirmed_source_gaps']} confirmed missing at the source"
            )
        print_audit_summary(report["final_audit"]["summary"])
    _finish(report, as_json, "remediation")


@app.command("quality")
def quality_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="default: every symbol in the lake"),
    asof: str = typer.Option("now", help="time the staleness check is made at"),
    jump_threshold: float = typer.Option(0.25, help="spike size (abs log return) to flag"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Data-quality gate: bad rows go to quarantine with a reason; exit 0 only when clean."""
    cli = get_context(ctx)
    catalog = _catalog(cli)
    config = QualityConfig.parse({"jump_threshold": jump_threshold}, where="--jump-threshold")
    assert isinstance(config, QualityConfig)
    report = run_quality(cli.lake, parse_symbols(symbols), parse_utc(asof, "--asof"), config)
    report["quality_id"] = catalog.record_quality(cli.run_id, report)
    if not as_json:
        summary = report["summary"]
        console.print(
            f"{summary['rows_checked']:,} bars checked, {summary['bad_rows']} bad "
            f"({summary['by_reason']}), {summary['stale_series']} stale series"
        )
    _finish(report, as_json, "data quality")
