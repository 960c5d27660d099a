"""`quantgate registry`: Model registry: versions, aliases and audited transitions."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Model registry: versions, aliases and audited transitions.", no_args_is_help=True
)
