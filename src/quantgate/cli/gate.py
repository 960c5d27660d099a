"""`quantgate gate`: readiness gates; each prints a JSON verdict and exits 0 only when passed."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from quantgate.cli.context import CliContext, console, emit_json, get_context
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.engine.backtest import find_run
from quantgate.gates.profitability import (
    GATE_NAME,
    ProfitabilityResult,
    ProfitabilityThresholds,
    evaluate_profitability,
)

app = typer.Typer(
    help="Readiness gates: a JSON verdict each; exit 0 only when the gate passed.",
    no_args_is_help=True,
)

_DEFAULTS = ProfitabilityThresholds()
# Errors name the option the user typed, not the threshold's field.
_OPTION_OF_THRESHOLD = {
    "min_net_sharpe": "--min-sharpe",
    "max_drawdown": "--max-drawdown",
    "min_round_trips": "--min-round-trips",
    "min_deflated_sharpe": "--min-deflated-sharpe",
    "max_pbo": "--max-pbo",
}


@app.command("profitability")
def profitability_command(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="backtest run id (default: the latest)"),
    min_sharpe: float = typer.Option(_DEFAULTS.min_net_sharpe, help="net Sharpe must exceed"),
    max_drawdown: float = typer.Option(_DEFAULTS.max_drawdown, help="max drawdown must be below"),
    min_round_trips: int = typer.Option(_DEFAULTS.min_round_trips, help="closed round trips"),
    min_deflated_sharpe: float = typer.Option(
        _DEFAULTS.min_deflated_sharpe, help="with several configurations tried"
    ),
    max_pbo: float = typer.Option(_DEFAULTS.max_pbo, help="with several configurations tried"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON verdict"),
) -> None:
    """Does a backtest make money after costs? Exit 0 only when it passes.

    Reports net return, Sharpe, Sortino, drawdown, hit rate, turnover and costs (by
    horizon, bucket and symbol), with deflated Sharpe and PBO when a grid was tried.
    """
    cli = get_context(ctx)
    values = {
        "min_net_sharpe": min_sharpe,
        "max_drawdown": max_drawdown,
        "min_round_trips": min_round_trips,
        "min_deflated_sharpe": min_deflated_sharpe,
        "max_pbo": max_pbo,
    }
    try:
        result = _judge(cli, run, values)
    except (ConfigurationError, DataError) as error:
        # Scripts read stdout: a refusal is a verdict too. The root handler still prints
        # the error on stderr and exits with its code.
        if as_json:
            emit_json(_refusal(error))
        raise
    if as_json:
        emit_json(result.to_json())
    else:
        figures = result.figures
        console.print(
            f"run {result.run_id}: net return {_pct(figures['net_return'])}, "
            f"Sharpe {_num(figures['sharpe'])}, Sortino {_num(figures['sortino'])}, "
            f"max drawdown {_pct(figures['max_drawdown'])}, hit rate {_pct(figures['hit_rate'])}, "
            f"turnover {_num(figures['turnover'])}, costs {figures['costs']['total']}"
        )
        for reason in result.reasons:
            console.print(f"  [red]✗[/red] {reason}")
        colour = "green" if result.passed else "red"
        console.print(f"[{colour}]profitability: {'PASSED' if result.passed else 'NOT PASSED'}")
    if not result.passed:
        raise typer.Exit(1)


def _thresholds(values: dict[str, Any]) -> ProfitabilityThresholds:
    try:
        return ProfitabilityThresholds.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]
        option = _OPTION_OF_THRESHOLD[str(problem["loc"][0])]
        wanted = str(problem["msg"]).removeprefix("Input should be ")
        raise ConfigurationError(
            f"{problem['msg']} (got {problem['input']!r})",
            field=option,
            fix=f"make {option} {wanted}",
        ) from None


def _judge(cli: CliContext, run: str | None, values: dict[str, Any]) -> ProfitabilityResult:
    thresholds = _thresholds(values)
    run_dir = find_run(cli.settings.resolved_home, run)
    with cli.recorded("gate profitability") as detail:
        result = evaluate_profitability(run_dir, thresholds)
        detail.update({"run_id": result.run_id, "passed": result.passed, "reasons": result.reasons})
    return result


def _refusal(error: ConfigurationError | DataError) -> dict[str, Any]:
    kind = "data" if isinstance(error, DataError) else "configuration"
    detail = {"kind": kind, "field": error.field, "message": error.message, "fix": error.fix}
    if isinstance(error, DataError):
        detail["file"] = error.source
    return {"gate": GATE_NAME, "passed": False, "error": detail}


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
