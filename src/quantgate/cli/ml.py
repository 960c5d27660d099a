"""`quantgate ml`: Models: training, purged walk-forward evaluation, tuning, export."""

from __future__ import annotations

import os
from typing import Any

import typer

from quantgate.cli.context import CliContext, console, emit_json, get_context, progress_bar
from quantgate.cli.options import EMBEDDER_HELP, parse_symbols, parse_utc
from quantgate.core.enums import Horizon
from quantgate.core.errors import ConfigurationError

app = typer.Typer(
    help="Models: training, purged walk-forward evaluation, tuning, export.", no_args_is_help=True
)

ESTIMATOR = typer.Option(
    "lgbm", "--estimator", help="lgbm | multimodal | momentum (the plain baseline)"
)
SYMBOLS = typer.Option(None, help="comma-separated; default: every symbol in the feature store")
START = typer.Option(None, help="first decision time (UTC ISO-8601); default: first stored")
END = typer.Option(None, help="end of the window, exclusive (UTC ISO-8601 or 'now')")
HORIZONS = typer.Option("1h,4h,1d,7d", help="comma-separated horizons")
FOLDS = typer.Option(4, "--folds", min=1, help="walk-forward test folds")
SEED = typer.Option(7, help="seed of every model and subsample")
ROUNDS = typer.Option(None, "--rounds", help="LightGBM boosting rounds (default 150)")
MAX_ROWS = typer.Option(40_000, "--max-train-rows", help="seeded subsample cap per fold")
WORKERS = typer.Option(None, help="local process-pool size (default: CPU count)")
EXECUTOR = typer.Option(None, help="local | ray (default: settings' executor, QG_EXECUTOR)")
JSON = typer.Option(False, "--json", help="print the JSON report")
EMBEDDER = typer.Option(None, help=f"{EMBEDDER_HELP}; must match the store")


def parse_horizons(text: str) -> tuple[Horizon, ...]:
    try:
        values = tuple(Horizon(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigurationError(
            f"unknown horizon in {text!r}", field="--horizons", fix="use 1h, 4h, 1d, 7d"
        ) from error
    if not values:
        raise ConfigurationError("no horizons given", field="--horizons")
    return tuple(sorted(set(values), key=lambda h: h.hours))


def environment(
    cli: CliContext, executor: str | None, workers: int | None, embedder: str | None = None
) -> Any:
    from quantgate.cli.features import features_config
    from quantgate.ml.training.pipeline import MLEnvironment

    chosen = executor or cli.settings.executor
    if chosen not in ("local", "ray"):
        raise ConfigurationError(f"unknown executor {chosen!r}", field="--executor")
    return MLEnvironment(
        lake=cli.lake,
        engine=cli.migrated_engine(),
        home=cli.settings.resolved_home,
        features=features_config(cli, embedder=embedder),
        executor=chosen,  # type: ignore[arg-type]
        workers=workers,
        ray_address=os.environ.get("QG_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS"),
        num_threads=max(1, os.cpu_count() or 1),
    )


def training_config(
    estimator: str,
    horizons: str,
    folds: int,
    seed: int,
    rounds: int | None,
    max_rows: int,
    **extra: Any,
) -> Any:
    from quantgate.ml.training.config import TrainingConfig

    if estimator not in ("lgbm", "multimodal", "momentum"):
        raise ConfigurationError(
            f"unknown estimator {estimator!r}",
            field="--estimator",
            fix="use lgbm, multimodal or momentum",
        )
    params: dict[str, Any] = {}
    if rounds is not None and estimator != "momentum":
        params["n_estimators" if estimator == "lgbm" else "max_epochs"] = rounds
    return TrainingConfig(
        estimator=estimator,
        horizons=parse_horizons(horizons),
        n_folds=folds,
        seed=seed,
        max_train_rows=max_rows,
        params=params,
        **extra,
    )


def _window(start: str | None, end: str | None) -> tuple[Any, Any]:
    return (
        parse_utc(start, "--start") if start else None,
        parse_utc(end, "--end") if end else None,
    )


def _print_report(payload: dict[str, Any], title: str) -> None:
    from quantgate.ml.training.pipeline import summary_line

    console.print(f"[bold]{title}[/bold] run {payload['run_id']} ({payload['n_rows']:,} rows)")
    for line in summary_line(payload):
        console.print("  " + line)


def _walk_forward(
    ctx: typer.Context,
    kind: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Run `ml eval` or `ml train` with the shared options, recorded and with a progress bar."""
    from quantgate.ml.training.pipeline import run_eval, run_train

    if kind == "train" and options["estimator"] == "momentum":
        raise ConfigurationError(
            "the momentum baseline is for comparison only and has no ONNX export",
            field="--estimator",
            fix="evaluate it with `quantgate ml eval --estimator momentum`",
        )
    cli = get_context(ctx)
    env = environment(cli, options["executor"], options["workers"], options["embedder"])
    config = training_config(
        options["estimator"],
        options["horizons"],
        options["folds"],
        options["seed"],
        options["rounds"],
        options["max_train_rows"],
    )
    first, last = _window(options["start"], options["end"])
    with cli.recorded(f"ml {kind}") as detail, progress_bar() as bar:
        task = bar.add_task("walk-forward fits", total=None)
        window: dict[str, Any] = {
            "symbols": parse_symbols(options["symbols"]),
            "start": first,
            "end": last,
            "progress": lambda done, total: bar.update(task, completed=done, total=total),
        }
        if kind == "train":
            payload = run_train(env, config, **window)
            detail.update(run_id=payload["run_id"], artifact=payload["artifact"]["path"])
        else:
            payload = run_eval(env, config, **window)[0]
            detail.update(run_id=payload["run_id"], ic_to_oracle=payload["ic_to_oracle"])
    return payload


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    estimator: str = ESTIMATOR,
    symbols: str | None = SYMBOLS,
    start: str | None = START,
    end: str | None = END,
    horizons: str = HORIZONS,
    folds: int = FOLDS,
    seed: int = SEED,
    rounds: int | None = ROUNDS,
    max_train_rows: int = MAX_ROWS,
    workers: int | None = WORKERS,
    executor: str | None = EXECUTOR,
    embedder: str | None = EMBEDDER,
    as_json: bool = JSON,
) -> None:
    """Rolling out-of-sample evaluation (purged walk-forward); records the run."""
    options = dict(locals())
    payload = _walk_forward(options.pop("ctx"), "eval", options)
    if as_json:
        emit_json(payload)
    else:
        _print_report(payload, "walk-forward evaluation")


@app.command("train")
def train_command(
    ctx: typer.Context,
    estimator: str = ESTIMATOR,
    symbols: str | None = SYMBOLS,
    start: str | None = START,
    end: str | None = END,
    horizons: str = HORIZONS,
    folds: int = FOLDS,
    seed: int = SEED,
    rounds: int | None = ROUNDS,
    max_train_rows: int = MAX_ROWS,
    workers: int | None = WORKERS,
    executor: str | None = EXECUTOR,
    embedder: str | None = EMBEDDER,
    as_json: bool = JSON,
) -> None:
    """Walk-forward evaluation, then fit on the whole window and export ONNX + metadata."""
    options = dict(locals())
    payload = _walk_forward(options.pop("ctx"), "train", options)
    if as_json:
        emit_json(payload)
    else:
        _print_report(payload, "trained")
        console.print(f"artifact: {payload['artifact']['path']}")


@app.command("validate-leakage")
def validate_leakage_command(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Re-check every recorded run for label overlap and contract drift; exit 0 only with none."""
    from quantgate.ml.training.runs import validate_leakage

    cli = get_context(ctx)
    report = validate_leakage(cli.migrated_engine())
    if as_json:
        emit_json(report)
    else:
        colour = "green" if report["passed"] else "red"
        console.print(
            f"[{colour}]{report['runs_checked']} runs checked, "
            f"violating_runs: {report['violating_runs']}"
        )
        for run in report["violations"]:
            console.print(f"[red]  {run['run_id']}: {'; '.join(run['reasons'])}")
    if not report["passed"]:
        raise typer.Exit(1)


@app.command("tune")
def tune_command(
    ctx: typer.Context,
    estimator: str = ESTIMATOR,
    symbols: str | None = SYMBOLS,
    start: str | None = START,
    end: str | None = END,
    horizons: str = HORIZONS,
    folds: int = FOLDS,
    seed: int = SEED,
    rounds: int | None = ROUNDS,
    max_train_rows: int = MAX_ROWS,
    trials: int = typer.Option(8, "--trials", min=1, help="Optuna trials to run"),
    batch: int = typer.Option(2, "--batch", min=1, help="trials evaluated in one fan-out"),
    study: str = typer.Option("quantgate", "--study", help="study name (shared by workers)"),
    objective: str = typer.Option("1d", "--objective-horizon", help="horizon of the objective"),
    workers: int | None = WORKERS,
    executor: str | None = EXECUTOR,
    embedder: str | None = EMBEDDER,
    as_json: bool = JSON,
) -> None:
    """Optuna over hyperparameters and feature blocks; objective = mean OOS fold rank IC."""
    from quantgate.ml.training.tune import run_tune

    cli = get_context(ctx)
    env = environment(cli, executor, workers, embedder)
    config = training_config(estimator, horizons, folds, seed, rounds, max_train_rows)
    first, last = _window(start, end)
    with cli.recorded("ml tune") as detail, progress_bar() as bar:
        task = bar.add_task("trials", total=trials)
        payload = run_tune(
            env,
            config,
            storage_url=cli.settings.resolved_database_url,
            study_name=study,
            n_trials=trials,
            batch=batch,
            objective_horizon=parse_horizons(objective)[0],
            symbols=parse_symbols(symbols),
            start=first,
            end=last,
            progress=lambda done, total: bar.update(task, completed=done),
        )
        detail.update(study=study, best=payload["best"])
    if as_json:
        emit_json(payload)
    else:
        best = payload["best"]
        console.print(
            f"study {study}: {payload['n_trials']} trials, best value {best['value']} "
            f"with {best['params']}"
        )
