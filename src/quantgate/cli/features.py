"""`quantgate features`: Point-in-time features: contract, build and leakage validators."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Point-in-time features: contract, build and leakage validators.", no_args_is_help=True
)
