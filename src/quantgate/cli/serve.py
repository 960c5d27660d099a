"""`quantgate serve`: Serve the prediction and monitoring API."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Serve the prediction and monitoring API.",
    no_args_is_help=True,
)
