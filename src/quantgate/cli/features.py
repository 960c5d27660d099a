"""`quantgate features`: Point-in-time features: contract, build and leakage validators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import Progress, TaskID

from quantgate.cli.context import CliContext, console, emit_json, get_context, progress_bar
from quantgate.cli.options import EMBEDDER_HELP, parse_symbols
from quantgate.core.errors import ConfigurationError
from quantgate.features.build import BUILD_JOB, FeatureBuilder
from quantgate.features.config import FeaturesConfig
from quantgate.features.contract import MIN_WIDTH, feature_contract
from quantgate.features.validate import MIN_SAMPLE_ROWS, lookahead, validate_asof
from quantgate.storage.checkpoints import Checkpoints

app = typer.Typer(
    help="Point-in-time features: contract, build and leakage validators.", no_args_is_help=True
)


def features_config(cli: CliContext, **overrides: Any) -> FeaturesConfig:
    """Settings' `features` table (when the settings carry one), then command-line overrides."""
    values: dict[str, Any] = {}
    section = getattr(cli.settings, "features", None)
    if isinstance(section, FeaturesConfig):
        values.update(section.model_dump())
    elif isinstance(section, dict):
        values.update(section)
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = FeaturesConfig.parse(values, where="features")
    assert isinstance(config, FeaturesConfig)
    return config


def make_builder(cli: CliContext, config: FeaturesConfig) -> FeatureBuilder:
    return FeatureBuilder(cli.lake, cli.settings.resolved_home / "features", config)


@contextmanager
def _progress() -> Iterator[Any]:
    with progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            _update(bar, tasks, stage, done, total)

        yield advance


def _update(bar: Progress, tasks: dict[str, TaskID], stage: str, done: int, total: int) -> None:
    if stage not in tasks:
        tasks[stage] = bar.add_task(stage, total=total or None)
    bar.update(tasks[stage], completed=done, total=total or None)


def _finish(payload: dict[str, Any], as_json: bool, headline: str) -> None:
    if as_json:
        emit_json(payload)
    else:
        colour = "green" if payload["passed"] else "red"
        console.print(f"[{colour}]{headline}: {'PASSED' if payload['passed'] else 'NOT PASSED'}")
    if not payload["passed"]:
        raise typer.Exit(1)


@app.command("contract")
def contract_command(
    ctx: typer.Context,
    embedder: str | None = typer.Option(None, help=EMBEDDER_HELP),
    names: bool = typer.Option(False, "--names", help="list every FeatureSpec"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """The feature contract: width, contract_hash and the width of every block."""
    cli = get_context(ctx)
    config = features_config(cli, embedder=embedder)
    contract = feature_contract(config)
    payload: dict[str, Any] = dict(contract.summary())
    payload["embedder"] = config.embedder
    payload["passed"] = contract.width >= MIN_WIDTH
    if names:
        payload["specs"] = [spec.as_list() for spec in contract.specs]
    if as_json:
        emit_json(payload)
    else:
        console.print(f"width {contract.width}, contract_hash {contract.contract_hash}")
        for block, width in contract.blocks.items():
            console.print(f"  {block}: {width}")
    if not payload["passed"]:
        raise typer.Exit(1)


@app.command("build")
def build_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="comma-separated; default: symbols in the lake"),
    full: bool = typer.Option(False, "--full", help="drop stored features and rebuild"),
    embedder: str | None = typer.Option(None, help=EMBEDDER_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Compute the feature store: incremental (new decision times only) and resumable."""
    cli = get_context(ctx)
    config = features_config(cli, embedder=embedder)
    builder = make_builder(cli, config)
    checkpoints = Checkpoints(cli.migrated_engine(), BUILD_JOB)
    with _progress() as advance:
        report = builder.build(
            parse_symbols(symbols), checkpoints=checkpoints, full=full, progress=advance
        )
    report["passed"] = True
    if as_json:
        emit_json(report)
        return
    console.print(
        f"{report['mode']}: {report.get('rows_computed', 0):,} rows "
        f"({report.get('rows_per_second') or 0:,.0f} rows/s), width {report['width']}, "
        f"embedder {report['embedder']['id']}"
    )
    if report.get("rebuild_reason"):
        console.print(f"[yellow]rebuild: {report['rebuild_reason']}")


@app.command("validate-asof")
def validate_asof_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="default: every symbol in the lake"),
    sample: int = typer.Option(
        0, help=f"check a seeded random sample of this many rows (>= {MIN_SAMPLE_ROWS}); 0 = all"
    ),
    seed: int = typer.Option(7, help="seed of the sample and the dependency probe"),
    embedder: str | None = typer.Option(None, help=EMBEDDER_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Recompute every row's input provenance; exit 0 only with zero future leakage."""
    if 0 < sample < MIN_SAMPLE_ROWS:
        raise ConfigurationError(
            f"a sample of {sample} rows is too small",
            field="--sample",
            fix=f"use 0 (every row) or at least {MIN_SAMPLE_ROWS}",
        )
    cli = get_context(ctx)
    builder = make_builder(cli, features_config(cli, embedder=embedder))
    with _progress() as advance:
        report = validate_asof(
            builder, parse_symbols(symbols), sample_rows=sample, seed=seed, progress=advance
        )
    if not as_json:
        console.print(
            f"future_leakage_count: {report.get('future_leakage_count')}, "
            f"snapshot_time_consistency: {report.get('snapshot_time_consistency')}, "
            f"provenance mismatches: {report.get('provenance_mismatch_count')}"
        )
        for name, rows in (report.get("leaking_features") or {}).items():
            console.print(f"[red]  leaking feature {name}: {rows} rows")
    _finish(report, as_json, "validate-asof")


@app.command("lookahead")
def lookahead_command(
    ctx: typer.Context,
    symbols: str | None = typer.Option(None, help="default: every symbol in the lake"),
    cuts: int = typer.Option(24, min=1, help="number of cut points (seeded random decision times)"),
    seed: int = typer.Option(7, help="seed of the cut points"),
    embedder: str | None = typer.Option(None, help=EMBEDDER_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report"),
) -> None:
    """Recompute features on data truncated at cut points; any difference is lookahead bias."""
    cli = get_context(ctx)
    builder = make_builder(cli, features_config(cli, embedder=embedder))
    with _progress() as advance:
        report = lookahead(
            builder, parse_symbols(symbols), cut_points=cuts, seed=seed, progress=advance
        )
    if not as_json:
        cut_points = len(report.get("cut_points", []))
        console.print(
            f"{report.get('rows_compared', 0)} rows at {cut_points} cut points: "
            f"{report.get('biased_feature_count', 0)} biased features"
        )
        for name, count in (report.get("biased_features") or {}).items():
            console.print(f"[red]  lookahead bias in {name}: {count} values")
    _finish(report, as_json, "lookahead")
