"""`quantgate ml`: Models: training, purged walk-forward evaluation, tuning, export."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Models: training, purged walk-forward evaluation, tuning, export.", no_args_is_help=True
)
