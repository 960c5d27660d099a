"""`quantgate backtest`: a strategy on the one engine over lake bars; writes a run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from quantgate.cli.context import (
    CliContext,
    console,
    emit_json,
    get_context,
    progress_bar,
    sigterm_as_interrupt,
)
from quantgate.cli.options import parse_symbols, parse_utc
from quantgate.core.errors import ConfigurationError
from quantgate.engine.backtest import (
    CHECKPOINT_DIR,
    RUN_FILES,
    BacktestConfig,
    BacktestResult,
    find_run,
    resume_backtest,
    run_backtest,
    runs_root,
)
from quantgate.engine.trials import (
    canonical,
    parse_assignments,
    parse_grid,
    run_trials,
    with_params,
)
from quantgate.strategy.registry import strategy_names

STRATEGY_HELP = "strategy: " + ", ".join(strategy_names())
SUMMARY_KEYS = (
    "final_equity",
    "net_pnl",
    "net_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "hit_rate",
    "round_trips",
    "turnover",
    "fees",
    "total_costs",
)


def backtest_config(
    cli: CliContext,
    *,
    strategy: str,
    symbols: str | None,
    start: str,
    end: str,
    params: str | None,
    param: list[str],
    capital: str | None,
    allocator: str | None,
    source: str | None,
    config_file: Path | None,
    predictions: Path | None = None,
) -> BacktestConfig:
    """A BacktestConfig from a JSON file of its fields (optional) and the command line."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values = _config_file_values(config_file)
    strategy_params = values.get("params", {})
    if not isinstance(strategy_params, dict):
        raise ConfigurationError(
            f"'params' in {config_file} is not a JSON object",
            field="--config-file",
            fix='write the strategy parameters as an object, e.g. "params": {"lookback": 48}',
        )
    strategy_params = dict(strategy_params)
    if params:
        try:
            loaded = json.loads(params)
        except json.JSONDecodeError as error:
            raise ConfigurationError(
                f"--params is not JSON ({error})",
                field="--params",
                fix="e.g. --params '{\"lookback\": 48}'",
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigurationError("--params must be a JSON object", field="--params")
        strategy_params.update(loaded)
    strategy_params.update(parse_assignments(param, "--param"))
    values.update(
        {
            "strategy": strategy,
            "params": strategy_params,
            "symbols": parse_symbols(symbols) or values.get("symbols") or cli.settings.universe,
            "start": parse_utc(start, "--start"),
            "end": parse_utc(end, "--end"),
        }
    )
    if values["end"] <= values["start"]:
        raise ConfigurationError(
            f"the window ends ({end}) before or when it starts ({start})",
            field="--end",
            fix="give an --end later than --start (bars with start <= ts < end are used)",
        )
    if capital is not None:
        values["capital"] = capital
    if allocator is not None:
        values["portfolio"] = {**values.get("portfolio", {}), "allocator": allocator}
    if source is not None:
        values["source"] = source
    if predictions is not None:
        # Absolute, so that a resume from another directory finds the same file.
        values["predictions"] = str(predictions.expanduser().resolve())
    config = BacktestConfig.parse(values, where="backtest")
    assert isinstance(config, BacktestConfig)
    return canonical(config)


def _config_file_values(path: Path) -> dict[str, Any]:
    fix = 'give a JSON object of backtest config fields, e.g. {"capital": "50000"}'
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(
            f"cannot read {path} ({error})", field="--config-file", fix=fix
        ) from None
    if not isinstance(values, dict):
        raise ConfigurationError(
            f"{path} holds a JSON {type(values).__name__}, not an object",
            field="--config-file",
            fix=fix,
        )
    return values


def required_option(value: str | None, option: str, example: str) -> str:
    """`value`, or an error naming `option` (options that --resume does without)."""
    if value is None:
        raise ConfigurationError(
            "missing: it is required unless --resume names a run to continue",
            field=option,
            fix=f"e.g. {example}",
        )
    return value


def summary(result: BacktestResult) -> dict[str, Any]:
    metrics = result.metrics
    return {
        "run_id": result.run_id,
        "run_dir": str(result.run_dir),
        "completed": result.completed,
        "files": sorted(p.name for p in result.run_dir.iterdir() if p.name != CHECKPOINT_DIR),
        "summary": {key: metrics.get(key) for key in SUMMARY_KEYS},
        "engine": metrics.get("engine"),
        "throughput": metrics.get("throughput"),
    }


def denials_text(engine: dict[str, Any] | None) -> str:
    """The risk gate's denials of a run, by reason, for a human line (empty when none): a
    backtest logs them at debug only, so this line is where a person sees them."""
    denials = (engine or {}).get("denials") or {}
    if not denials:
        return ""
    total = sum(denials.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(denials.items()))
    return f"; the risk gate denied {total} order{'s' if total != 1 else ''} ({reasons})"


def backtest_command(
    ctx: typer.Context,
    strategy: str | None = typer.Option(
        None, "--strategy", help=STRATEGY_HELP + " (required unless --resume)"
    ),
    symbols: str | None = typer.Option(None, help="comma-separated; default: the universe"),
    start: str | None = typer.Option(
        None, help="window start, UTC ISO-8601 (bars with ts >= start; required unless --resume)"
    ),
    end: str | None = typer.Option(
        None, help="window end, UTC ISO-8601 or 'now' (exclusive; required unless --resume)"
    ),
    params: str | None = typer.Option(None, "--params", help="strategy parameters (JSON)"),
    param: list[str] = typer.Option(
        [], "--param", help="one strategy parameter name=value (repeatable)"
    ),
    grid: list[str] = typer.Option(
        [], "--grid", help="name=v1,v2: try every combination, keep the best, record all"
    ),
    capital: str | None = typer.Option(None, help="initial capital (default 100000)"),
    allocator: str | None = typer.Option(None, help="legacy or allocator_v2 (the default)"),
    source: str | None = typer.Option(None, help="bar source (default: most bars per symbol)"),
    predictions: Path | None = typer.Option(
        None, help="Parquet of model predictions (for ml_signal)"
    ),
    config_file: Path | None = typer.Option(
        None, "--config-file", help="JSON object of BacktestConfig fields (costs, risk, ...)"
    ),
    checkpoint_every: int = typer.Option(5000, min=0, help="checkpoint every N events (0: never)"),
    resume: str | None = typer.Option(
        None, help="continue interrupted run RUN_ID from its checkpoint (other options ignored)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the JSON result"),
) -> None:
    """Backtest a strategy over lake bars and write a run folder.

    The folder ($QG_HOME/runs/backtest/<run id>) holds trades, the execution trace, the
    equity curve, metrics, the config hash, the data manifest and the git SHA.
    """
    cli = get_context(ctx)
    home = cli.settings.resolved_home
    every = checkpoint_every or None
    config: BacktestConfig | None = None
    combos: list[dict[str, Any]] = [{}]
    if resume is not None:
        run_dir = find_run(home, resume, option="--resume")
    else:
        config = backtest_config(
            cli,
            strategy=required_option(strategy, "--strategy", "--strategy momentum"),
            symbols=symbols,
            start=required_option(start, "--start", "--start 2024-01-01"),
            end=required_option(end, "--end", "--end 2024-07-01"),
            params=params,
            param=param,
            capital=capital,
            allocator=allocator,
            source=source,
            config_file=config_file,
            predictions=predictions,
        )
        combos = parse_grid(grid)
    with sigterm_as_interrupt(), cli.recorded("backtest") as detail, progress_bar() as bar:
        task = bar.add_task("backtest", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def trial_progress(done: int, total: int, name: str) -> None:
            bar.update(task, description=f"trial {name} ({done}/{total})")

        if config is None:
            result = resume_backtest(
                run_dir, lake=cli.lake, progress=advance, checkpoint_every=every
            )
        elif len(combos) > 1:
            result = run_trials(
                config,
                combos,
                runs_root(home),
                lake=cli.lake,
                progress=trial_progress,
                checkpoint_every=every,
            )
        else:
            result = run_backtest(
                with_params(config, combos[0]),
                home,
                lake=cli.lake,
                progress=advance,
                checkpoint_every=every,
            )
        payload = summary(result)
        detail.update({"run_id": result.run_id, "run_dir": str(result.run_dir)})
    if as_json:
        emit_json(payload)
    else:
        figures = payload["summary"]
        sharpe, drawdown = figures["sharpe"], figures["max_drawdown"]
        console.print(
            f"[green]✓[/green] run {result.run_id}: net return {figures['net_return']:+.2%}, "
            f"Sharpe {'n/a' if sharpe is None else f'{sharpe:.2f}'}, max drawdown "
            f"{'n/a' if drawdown is None else f'{drawdown:.1%}'}, "
            f"{figures['round_trips']} round trips{denials_text(payload['engine'])} → "
            f"{result.run_dir}"
        )


__all__ = ["RUN_FILES", "backtest_command", "backtest_config", "denials_text", "summary"]
