"""`quantgate demo`: every phase built so far, end to end, on the synthetic market."""

from __future__ import annotations

import typer

from quantgate.cli.context import console, get_context
from quantgate.storage import upgrade

app = typer.Typer(help="Run every phase built so far on the built-in synthetic market.")


@app.callback(invoke_without_command=True)
def demo(ctx: typer.Context) -> None:
    cli = get_context(ctx)
    console.rule("[bold]quantgate demo")
    console.print(f"home: {cli.settings.resolved_home}")
    revision = upgrade(cli.engine)
    console.print(f"[green]✓[/green] database migrated to {revision}")
