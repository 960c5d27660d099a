"""`quantgate registry`: Model registry: versions, aliases and audited transitions.

Transitions never touch live trading: a running engine notices alias moves by
polling the registry (quantgate.registry.runtime.ActiveModels).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import typer

from quantgate.cli.context import CliContext, console, emit_json, get_context
from quantgate.cli.options import parse_utc
from quantgate.core.errors import ConfigurationError
from quantgate.registry import ALIASES, PromotionRules, Registry, RegistryUsageError, Transition
from quantgate.registry.bundle import export_bundle, import_bundle
from quantgate.registry.runs import register_from_run
from quantgate.registry.service import horizon_value
from quantgate.registry.shadow_report import shadow_report

app = typer.Typer(
    help="Model registry: versions, aliases and audited transitions.", no_args_is_help=True
)

ACTOR_HELP = "who does this (default: $USER)"
RULES_HELP = "TOML file with a [registry.promotion] table (default: settings, then built-ins)"


def default_actor() -> str:
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def open_registry(cli: CliContext, rules: Path | None = None) -> Registry:
    return Registry.from_settings(
        cli.migrated_engine(),
        cli.settings,
        rules=None if rules is None else PromotionRules.from_toml(rules),
    )


def print_transition(transition: Transition, *, with_checks: bool = True) -> None:
    key = f"{transition.symbol} {transition.horizon}"
    if transition.report is not None and with_checks:
        for check in transition.report.checks:
            colour = {"pass": "green", "fail": "red", "missing": "yellow"}[check.verdict]
            value = "n/a" if check.value is None else f"{check.value:.4g}"
            console.print(
                f"  {key} {check.rule}: {value} {check.op} {check.threshold:g} "
                f"[{colour}]{check.verdict}[/{colour}]"
            )
    if transition.refused:
        console.print(f"[red]{key}: {transition.action} refused[/red] (rules not met)")
    elif transition.changed:
        forced = " [yellow](forced)[/yellow]" if transition.forced else ""
        console.print(
            f"[green]{key}: {transition.alias} {transition.from_version or '-'} → "
            f"{transition.to_version}[/green]{forced}"
        )
    else:
        console.print(f"{key}: {transition.alias} already at {transition.to_version}")


def _finish(payload: dict[str, Any], as_json: bool, failed: bool) -> None:
    if as_json:
        emit_json(payload)
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_command(
    ctx: typer.Context,
    symbol: str | None = typer.Option(None, help="only this symbol"),
    horizon: str | None = typer.Option(None, help="only this horizon"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Versions and the aliases that point at them."""
    registry = open_registry(get_context(ctx))
    aliases: dict[str, list[str]] = {}
    for state in registry.aliases(symbol, horizon):
        aliases.setdefault(state.version_id, []).append(state.alias)
    versions = [
        {**v.to_dict(), "aliases": sorted(aliases.get(v.version_id, []))}
        for v in registry.versions(symbol, horizon)
    ]
    payload = {
        "versions": versions,
        "aliases": [a.to_dict() for a in registry.aliases(symbol, horizon)],
    }
    if as_json:
        emit_json(payload)
        return
    for version in versions:
        console.print(
            f"{version['version_id']}  {version['symbol']} {version['horizon']}  "
            f"{version['created_at']}  {','.join(version['aliases']) or '-'}"
        )
    if not versions:
        console.print("no model versions registered")


@app.command("show")
def show_command(
    ctx: typer.Context,
    version_id: str | None = typer.Argument(None, help="a version id"),
    symbol: str | None = typer.Option(None, help="with --horizon: show the alias's version"),
    horizon: str | None = typer.Option(None),
    alias: str = typer.Option("active", help=f"one of {', '.join(ALIASES)}"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """One version (metadata, evaluation, rule verdicts) and its (symbol, horizon) audit trail."""
    registry = open_registry(get_context(ctx))
    if version_id is None:
        if symbol is None or horizon is None:
            raise RegistryUsageError("give a version id, or --symbol and --horizon")
        version = registry.resolve(symbol, horizon, alias)
        if version is None:
            raise RegistryUsageError(f"{symbol} {horizon_value(horizon)} has no {alias} model")
    else:
        version = registry.version(version_id)
    payload = {
        "version": version.to_dict(with_metadata=True),
        "aliases": [
            a.to_dict()
            for a in registry.aliases(version.symbol, version.horizon)
            if a.version_id == version.version_id
        ],
        "rules": registry.rules.check(version.evaluation).to_dict(),
        "audit": registry.audit_trail(version.symbol, version.horizon),
    }
    if as_json:
        emit_json(payload)
        return
    console.print_json(json.dumps(payload, default=str))


@app.command("register-candidate")
def register_candidate_command(
    ctx: typer.Context,
    run: str | None = typer.Option(
        None, help="'latest' or a run id: every (symbol, horizon) of that training run"
    ),
    artifact: Path | None = typer.Option(None, help="an artifact folder (model.onnx + metadata)"),
    symbol: str | None = typer.Option(None, help="required with --artifact; filter with --run"),
    horizon: str | None = typer.Option(None, help="required with --artifact; filter with --run"),
    evaluation: Path | None = typer.Option(
        None, help="JSON file with the OOS evaluation record (default: artifact metadata)"
    ),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    reason: str | None = typer.Option(None, help="why (recorded in the audit trail)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Store an artifact as an immutable version and point `candidate` at it."""
    cli = get_context(ctx)
    registry = open_registry(cli)
    who = actor or default_actor()
    if (run is None) == (artifact is None):
        raise RegistryUsageError("give exactly one of --run and --artifact")
    source: dict[str, Any]
    if run is not None:
        results, source = register_from_run(
            registry, cli.engine, run, symbol, horizon, actor=who, reason=reason
        )
        for item in results:
            if "error" in item:
                console.print(f"[red]{item['symbol']} {item['horizon']}: {item['error']}[/red]")
    else:
        assert artifact is not None
        if symbol is None or horizon is None:
            raise RegistryUsageError("--artifact needs --symbol and --horizon")
        record = None
        if evaluation is not None:
            try:
                record = json.loads(evaluation.read_text())
            except (OSError, json.JSONDecodeError) as error:
                raise ConfigurationError(
                    f"cannot read evaluation {evaluation}: {error}", field="--evaluation"
                ) from None
        transition = registry.register_candidate(
            artifact, symbol, horizon, actor=who, reason=reason, evaluation=record
        )
        results, source = [transition.to_dict()], {"artifact_path": str(artifact)}
    if not as_json:
        for item in results:
            if "error" not in item:
                state = "new version" if item.get("created") else "existing version"
                console.print(
                    f"[green]{item['symbol']} {item['horizon']}: candidate → "
                    f"{item['to_version']}[/green] ({state})"
                )
    failed = any("error" in item for item in results)
    _finish({"source": source, "registered": results, "passed": not failed}, as_json, failed)


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    symbol: str | None = typer.Option(None),
    horizon: str | None = typer.Option(None),
    all_candidates: bool = typer.Option(False, "--all", help="every (symbol, horizon) candidate"),
    force: bool = typer.Option(False, "--force", help="promote despite failing rules (+reason)"),
    reason: str | None = typer.Option(None, help="why (required with --force)"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    rules: Path | None = typer.Option(None, help=RULES_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Candidate → active when every promotion rule passes; exit 1 if any promotion failed."""
    registry = open_registry(get_context(ctx), rules)
    who = actor or default_actor()
    if all_candidates:
        keys = sorted(
            (a.symbol, a.horizon)
            for a in registry.aliases(symbol, horizon)
            if a.alias == "candidate"
        )
    elif symbol is not None and horizon is not None:
        keys = [(symbol, horizon)]
    else:
        raise RegistryUsageError("give --symbol and --horizon, or --all")
    results = []
    for s, h in keys:
        transition = registry.promote(s, h, actor=who, reason=reason, force=force)
        if not as_json:
            print_transition(transition)
        results.append(transition.to_dict())
    failed = any(item["refused"] for item in results)
    payload = {
        "rules": registry.rules.model_dump(),
        "rules_config_hash": registry.rules.config_hash,
        "promotions": results,
        "passed": not failed,
    }
    if not keys and not as_json:
        console.print("no candidates to promote")
    _finish(payload, as_json, failed)


@app.command("activate")
def activate_command(
    ctx: typer.Context,
    version_id: str = typer.Argument(..., help="the version to make active"),
    force: bool = typer.Option(False, "--force", help="activate despite failing rules (+reason)"),
    reason: str | None = typer.Option(None, help="why (required with --force)"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    rules: Path | None = typer.Option(None, help=RULES_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Point `active` at a version (rule-checked); exit 1 when refused."""
    registry = open_registry(get_context(ctx), rules)
    transition = registry.activate(
        version_id, actor=actor or default_actor(), reason=reason, force=force
    )
    if not as_json:
        print_transition(transition)
    _finish(transition.to_dict(), as_json, transition.refused)


def rollback(
    cli: CliContext, symbol: str, horizon: str, reason: str | None, actor: str | None
) -> Transition:
    registry = open_registry(cli)
    return registry.rollback(symbol, horizon, actor=actor or default_actor(), reason=reason)


@app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    symbol: str = typer.Option(...),
    horizon: str = typer.Option(...),
    reason: str = typer.Option(..., help="why (required)"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Active → the previously active version."""
    transition = rollback(get_context(ctx), symbol, horizon, reason, actor)
    if not as_json:
        print_transition(transition)
    _finish(transition.to_dict(), as_json, False)


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., help="the .tar.gz to write"),
    version_ids: list[str] = typer.Option(
        [], "--version", help="version ids (repeatable); default: every version behind --alias"
    ),
    alias: str = typer.Option("active", help="with no --version: export this alias's versions"),
    symbol: str | None = typer.Option(None),
    horizon: str | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Write an inference bundle: artifacts, metadata, evaluation, feature contract, checksums."""
    registry = open_registry(get_context(ctx))
    states = [a for a in registry.aliases(symbol, horizon) if a.alias == alias]
    if version_ids:
        versions = [registry.version(v) for v in version_ids]
    else:
        versions = [registry.version(a.version_id) for a in states]
    if not versions:
        raise RegistryUsageError(f"nothing to export: no {alias} versions match")
    aliases = {f"{a.symbol}/{a.horizon}/{a.alias}": a.version_id for a in states}
    summary = export_bundle(registry, versions, out, aliases=aliases)
    if not as_json:
        console.print(f"[green]wrote {out}[/green]: {len(versions)} versions")
    _finish(summary, as_json, False)


@app.command("import")
def import_command(
    ctx: typer.Context,
    bundle: Path = typer.Argument(..., help="a bundle written by `registry export`"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    reason: str | None = typer.Option(None, help="why (recorded in the audit trail)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Verify a bundle's checksums and register its versions (aliases do not move)."""
    registry = open_registry(get_context(ctx))
    summary = import_bundle(registry, bundle, actor=actor or default_actor(), reason=reason)
    if not as_json:
        for item in summary["versions"]:
            state = "imported" if item["created"] else "already present"
            console.print(f"{item['version_id']}: {state}")
    _finish(summary, as_json, False)


@app.command("set-shadow")
def set_shadow_command(
    ctx: typer.Context,
    version_id: str = typer.Argument(..., help="the version to score in shadow"),
    reason: str | None = typer.Option(None, help="why (recorded in the audit trail)"),
    actor: str | None = typer.Option(None, help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Point `shadow` at a version: it scores every request, is logged, never returned or traded."""
    registry = open_registry(get_context(ctx))
    transition = registry.set_shadow(version_id, actor=actor or default_actor(), reason=reason)
    if not as_json:
        print_transition(transition)
    _finish(transition.to_dict(), as_json, False)


@app.command("shadow-report")
def shadow_report_command(
    ctx: typer.Context,
    symbol: str | None = typer.Option(None, help="only this symbol"),
    horizon: str | None = typer.Option(None, help="only this horizon"),
    start: str | None = typer.Option(None, help="first decision time (UTC ISO-8601)"),
    end: str | None = typer.Option(None, help="end of the window, exclusive (UTC ISO-8601)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Shadow vs active over a window: IC against realised returns, calibration, agreement."""
    cli = get_context(ctx)
    report = shadow_report(
        cli.migrated_engine(),
        cli.lake,
        symbol=symbol,
        horizon=None if horizon is None else horizon_value(horizon),
        start=None if start is None else parse_utc(start, "--start"),
        end=None if end is None else parse_utc(end, "--end"),
    )
    if as_json:
        emit_json(report)
        return
    if not report["pairs"]:
        console.print("no shadow predictions in the window")
    for pair in report["pairs"]:
        active, shadow = pair["active"], pair["shadow"]
        console.print(
            f"{pair['symbol']} {pair['horizon']}  shadow {pair['shadow_version_id']} vs active "
            f"{pair['active_version_id'] or '-'}: {pair['n_realised']}/{pair['n_scored']} realised"
            f"  IC {_fmt(shadow['ic'])} vs {_fmt(active['ic'])}"
            f"  ECE {_fmt(shadow['ece'])} vs {_fmt(active['ece'])}"
            f"  agreement {_fmt(pair['agreement']['direction'])}"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
