"""Root of the `quantgate` command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from quantgate import __version__
from quantgate.cli import (
    backtest,
    data,
    db,
    demo,
    features,
    gate,
    ml,
    registry,
    risk,
    serve,
    validate,
)
from quantgate.cli.context import CliContext, console
from quantgate.config.logging import bind_run_id, configure_logging
from quantgate.core.errors import (
    ConfigurationError,
    DataError,
    QuantgateError,
    TemporaryError,
)

app = typer.Typer(
    name="quantgate",
    help="Carry a trading model from raw data to live capital through measurable gates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(ml.app, name="ml")
app.add_typer(registry.app, name="registry")
app.command("backtest")(backtest.backtest_command)
app.add_typer(gate.app, name="gate")
app.add_typer(risk.app, name="risk")
app.add_typer(validate.app, name="validate")
app.command("serve")(serve.serve_command)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")

# Exit codes by what the operator does next (1 is reserved for a gate that did not pass).
EXIT_CONFIGURATION = 2
EXIT_DATA = 3
EXIT_TEMPORARY = 75


def _version(value: bool) -> None:
    if value:
        console.print(f"quantgate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="TOML settings file (default: $QG_CONFIG_FILE or ./quantgate.toml)"
    ),
    log_json: bool = typer.Option(False, "--log-json", help="log JSON lines instead of console"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    cli = CliContext(config_file=config)
    ctx.obj = cli
    settings = cli.settings
    configure_logging("json" if log_json else settings.log_format, settings.log_level)
    cli.run_id = bind_run_id()


def main() -> None:
    try:
        app()
    except ConfigurationError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        sys.exit(EXIT_CONFIGURATION)
    except DataError as error:
        console.print(f"[red]data error:[/red] {error}")
        sys.exit(EXIT_DATA)
    except TemporaryError as error:
        console.print(f"[yellow]temporary error (retry later):[/yellow] {error}")
        sys.exit(EXIT_TEMPORARY)
    except QuantgateError as error:
        console.print(f"[red]error:[/red] {error}")
        sys.exit(1)


if __name__ == "__main__":
    main()
