"""`quantgate data`: generate, import, backfill, audit, remediate and the quality gate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
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


@app.command("generate")
def generate_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="comma-separated; default: the universe"),
    start: str = typer.Option("2018-01-01", help="first day (UTC midnight)"),
    end: str | None = typer.Option(None, help="end (exclusive); default: now, floored to the hour"),
    seed: int = typer.Option(7, help="random seed; the same seed gives the same market"),
    gap_fraction: float = typer.Option(0.0, help="fraction of bars removed in planted gaps"),
    with_books: bool = typer.Option(False, "--with-books", help="also write L2 book snapshots"),
    posts_per_day: float | None = typer.Option(None, help="base posts per symbol and day"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON result"),
) -> None:
    """Write the synthetic market and its social text into the lake."""
    from quantgate.adapters.sim import SyntheticMarketConfig
    from quantgate.data.generate import generate_synthetic

    cli = get_context(ctx)
    values: dict[str, Any] = {
        "seed": seed,
        "start": parse_utc(start, "--start"),
        "gap_fraction": gap_fraction,
        "symbols": parse_symbols(symbols) or cli.settings.universe,
    }
    if end is not None:
        values["end"] = parse_utc(end, "--end")
    if posts_per_day is not None:
        values["posts_per_day_base"] = posts_per_day
    config = SyntheticMarketConfig.parse(values, where="data generate")
    assert isinstance(config, SyntheticMarketConfig)
    with cli.recorded("data generate") as detail, progress_bar() as bar:
        task = bar.add_task("generating", total=len(config.symbols))

        def advance(symbol: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"generating {symbol}")

        result = generate_synthetic(
            cli.lake, cli.engine, config, with_books=with_books, progress=advance
        )
        detail.update(result.as_json())
    if as_json:
        emit_json(result.as_json())
    else:
        total = {
            k: sum(r.get(k, 0) for r in result.rows.values()) for k in ("bars", "posts", "comments")
        }
        console.print(
            f"[green]✓[/green] synthetic market written: {total['bars']:,} bars, "
            f"{total['posts']:,} posts, {total['comments']:,} comments "
            f"({result.planted_bar_gaps} planted bar gaps); oracle IC {result.oracle_ic}"
        )


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="a file or a folder of files"),
    format: str | None = typer.Option(
        None,
        "--format",
        help="ohlcv, binance, freqtrade, text, reddit, cryptonews (default: detect)",
    ),
    symbol: str | None = typer.Option(
        None, help="symbol for a single bar file without one in its name"
    ),
    source_name: str | None = typer.Option(None, help="default: files:<folder or file name>"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON result"),
) -> None:
    """Import bars (CSV, Parquet, JSON, Binance klines, freqtrade) or texts into the lake."""
    from quantgate.data.catalog import BARS_FAMILY, SOCIAL_FAMILY
    from quantgate.data.files import import_path
    from quantgate.data.sources.registry import market_source_from_spec, text_source_from_spec

    cli = get_context(ctx)
    catalog = _catalog(cli)
    with cli.recorded("data import") as detail, progress_bar() as bar:
        task = bar.add_task("importing", total=None)

        def advance(message: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=message[:40])

        result = import_path(cli.lake, path, format, symbol, source_name, progress=advance)
        spec = result.source_spec
        if result.kind == "market":
            catalog.register_with_coverage(market_source_from_spec(spec), BARS_FAMILY)
        else:
            catalog.register_with_coverage(text_source_from_spec(spec), SOCIAL_FAMILY)
        detail.update(result.to_dict())
    payload = result.to_dict()
    if as_json:
        emit_json(payload)
    else:
        for dataset, counts in payload["totals"].items():
            console.print(
                f"[green]✓[/green] {dataset}: {counts['read']:,} read, {counts['inserted']:,} new, "
                f"{counts['updated']:,} updated, {counts['unchanged']:,} unchanged"
            )
        if payload["unmapped_texts"]["count"]:
            console.print(f"[yellow]{payload['unmapped_texts']['count']} texts map to no symbol")


@app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    exchange: str = typer.Option(..., help="ccxt exchange id, e.g. binance"),
    symbols: str = typer.Option(..., help="comma-separated, e.g. BTCUSDT,ETHUSDT"),
    since: str = typer.Option(..., help="first bar wanted (UTC ISO-8601)"),
    until: str | None = typer.Option(None, help="end (exclusive); default: now"),
    api_url: str | None = typer.Option(
        None, help="override the exchange's public REST URL (a proxy, mirror or test server)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the JSON result"),
) -> None:
    """Backfill hourly bars from an exchange with ccxt; resumes from the last stored bar."""
    from quantgate.adapters.ccxt import CcxtBackfillConfig, CcxtMarketSource, backfill
    from quantgate.data.catalog import BARS_FAMILY

    cli = get_context(ctx)
    catalog = _catalog(cli)
    wanted = parse_symbols(symbols) or ()
    values: dict[str, Any] = {"exchange": exchange, "symbols": wanted}
    if api_url:
        values["urls"] = {"public": api_url}
    config = CcxtBackfillConfig.parse(values, where="data backfill")
    assert isinstance(config, CcxtBackfillConfig)
    start = parse_utc(since, "--since")
    stop = parse_utc(until, "--until") if until else None
    with cli.recorded("data backfill") as detail, CcxtMarketSource(config) as source:
        catalog.register_with_coverage(source, BARS_FAMILY)
        with progress_bar() as bar:
            tasks = {s: bar.add_task(f"backfill {s}", total=None) for s in wanted}

            def advance(symbol: str, done: int, total: int) -> None:
                bar.update(tasks[symbol], completed=done, total=total)

            results = backfill(cli.lake, source, wanted, start, stop, progress=advance)
        payload: dict[str, Any] = {
            "source": source.name,
            "symbols": {
                symbol: {
                    "start": r.start.isoformat(),
                    "end": r.end.isoformat(),
                    "resumed_from": r.resumed_from.isoformat() if r.resumed_from else None,
                    "fetched": r.fetched,
                    "inserted": r.inserted,
                    "updated": r.updated,
                    "rejected": [{"reason": x.reason, "raw": x.raw} for x in r.rejected],
                    "pages": r.pages,
                    "requests": r.requests,
                    "retries": r.retries,
                    "stop_reason": r.stop_reason,
                }
                for symbol, r in results.items()
            },
        }
        detail.update(payload)
    if as_json:
        emit_json(payload)
    else:
        for symbol, r in payload["symbols"].items():
            console.print(
                f"[green]✓[/green] {symbol}: {r['inserted']:,} new bars in "
                f"{r['requests']} requests, {len(r['rejected'])} malformed rows rejected, "
                f"{r['retries']} retries"
            )
