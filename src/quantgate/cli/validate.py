"""`quantgate validate`: reviewable validation artifacts (walk-forward, parameter snapshots)."""

from __future__ import annotations

from pathlib import Path

import typer

from quantgate.cli.backtest import STRATEGY_HELP, backtest_config
from quantgate.cli.context import (
    console,
    emit_json,
    get_context,
    progress_bar,
    sigterm_as_interrupt,
)
from quantgate.engine.trials import parse_grid
from quantgate.engine.validation import MANIFEST_FILE, WalkForwardConfig, validate_artifacts

app = typer.Typer(help="Validation artifacts for review.", no_args_is_help=True)


@app.command("artifacts")
def artifacts_command(
    ctx: typer.Context,
    strategy: str = typer.Option(..., "--strategy", help=STRATEGY_HELP),
    symbols: str | None = typer.Option(None, help="comma-separated; default: the universe"),
    start: str = typer.Option(..., help="window start, UTC ISO-8601"),
    end: str = typer.Option(..., help="window end, UTC ISO-8601 or 'now' (exclusive)"),
    params: str | None = typer.Option(None, "--params", help="strategy parameters (JSON)"),
    param: list[str] = typer.Option([], "--param", help="name=value (repeatable)"),
    grid: list[str] = typer.Option([], "--grid", help="name=v1,v2: candidate parameter sets"),
    folds: int = typer.Option(4, help="walk-forward test folds"),
    train_fraction: float = typer.Option(0.4, help="share of days that only ever trains"),
    capital: str | None = typer.Option(None, help="initial capital (default 100000)"),
    allocator: str | None = typer.Option(None, help="legacy or allocator_v2 (the default)"),
    source: str | None = typer.Option(None, help="bar source (default: most bars per symbol)"),
    predictions: Path | None = typer.Option(
        None, help="Parquet of model predictions (for ml_signal)"
    ),
    config_file: Path | None = typer.Option(None, "--config-file", help="BacktestConfig JSON"),
    out: Path = typer.Option(Path("results/validation"), help="folder of validation runs"),
    as_json: bool = typer.Option(False, "--json", help="print the manifest"),
) -> None:
    """Walk-forward validation of a strategy's candidate parameters.

    Writes OUT/<timestamp>/manifest.json: git SHA, data manifest, folds, parameter snapshots.
    """
    cli = get_context(ctx)
    config = backtest_config(
        cli,
        strategy=strategy,
        symbols=symbols,
        start=start,
        end=end,
        params=params,
        param=param,
        capital=capital,
        allocator=allocator,
        source=source,
        config_file=config_file,
        predictions=predictions,
    )
    walk_forward = WalkForwardConfig.parse(
        {"folds": folds, "initial_train_fraction": train_fraction}, where="validate"
    )
    assert isinstance(walk_forward, WalkForwardConfig)
    # SIGTERM must unwind like Ctrl-C: the cleanup that removes a half-written folder
    # only runs on an exception, and a default SIGTERM ends the process without one.
    with (
        sigterm_as_interrupt(),
        cli.recorded("validate artifacts") as detail,
        progress_bar() as bar,
    ):
        task = bar.add_task("validation", total=None)

        def advance(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"candidate {name}")

        folder, manifest = validate_artifacts(
            config,
            parse_grid(grid),
            out.expanduser().resolve(),
            lake=cli.lake,
            walk_forward=walk_forward,
            progress=advance,
        )
        detail.update({"manifest": str(folder / MANIFEST_FILE), "git_sha": manifest["git_sha"]})
    if as_json:
        emit_json({"manifest_path": str(folder / MANIFEST_FILE), **manifest})
    else:
        oos = manifest["walk_forward"]["out_of_sample"]
        console.print(
            f"[green]✓[/green] {len(manifest['candidates'])} candidates, "
            f"{len(manifest['walk_forward']['folds'])} folds; out-of-sample return "
            f"{oos['net_return']}, Sharpe {oos['sharpe']} → {folder / MANIFEST_FILE}"
        )
