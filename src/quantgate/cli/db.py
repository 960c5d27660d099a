"""`quantgate db`: migrations of the project database."""

from __future__ import annotations

import typer

from quantgate.cli.context import console, emit_json, get_context
from quantgate.storage import current_revision, downgrade, head_revision, upgrade
from quantgate.storage.db import normalise_url

app = typer.Typer(help="Project database: migrate and inspect.", no_args_is_help=True)


def _safe_url(url: str) -> str:
    return normalise_url(url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    revision: str = typer.Argument("head", help="target revision"),
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    cli = get_context(ctx)
    reached = upgrade(cli.engine, revision)
    console.print(f"database {_safe_url(cli.settings.resolved_database_url)} at revision {reached}")


@app.command("downgrade")
def downgrade_command(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="target revision, e.g. -1 or base"),
) -> None:
    """Revert migrations down to REVISION."""
    cli = get_context(ctx)
    reached = downgrade(cli.engine, revision)
    console.print(f"database {_safe_url(cli.settings.resolved_database_url)} at revision {reached}")


@app.command("current")
def current_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show the database's revision and the newest one this code knows."""
    cli = get_context(ctx)
    current = current_revision(cli.engine)
    head = head_revision()
    payload = {
        "database_url": _safe_url(cli.settings.resolved_database_url),
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if as_json:
        emit_json(payload)
    else:
        console.print(f"current: {current}  head: {head}  ({payload['database_url']})")
