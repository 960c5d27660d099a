"""`quantgate backtest`: Backtests on the one engine."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Backtests on the one engine.",
    no_args_is_help=True,
)
