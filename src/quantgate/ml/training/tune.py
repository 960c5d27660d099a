"""`ml tune`: Optuna over model hyperparameters and feature-block choices.

The objective is the mean out-of-sample fold rank IC at one horizon over the
purged walk-forward folds. The study lives in the project database (Optuna
`RDBStorage` on the settings' database URL), so several workers pointed at one
PostgreSQL database join the same study by name. Trials are asked in batches
and each batch is evaluated in one (trial × fold) fan-out. Every trial is
recorded in `training_runs` (kind ``tune-trial``); the report carries the
deflated Sharpe ratio of the best trial's OOS book and the PBO (CSCV) over all
trials evaluated in this invocation, with ``n_trials`` = trials in the study.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from quantgate.core.enums import Horizon
from quantgate.ml.training.config import TrainingConfig
from quantgate.ml.training.evaluate import Evaluation, evaluate_configs, public_report
from quantgate.ml.training.pipeline import (
    MLEnvironment,
    _windows,
    new_run_id,
    overfitting_stats,
)
from quantgate.ml.training.runs import git_sha, record_run

OPTIONAL_BLOCKS = ("cross_asset", "calendar", "social_text_latent", "market_latent")


def suggest(trial: Any, base: TrainingConfig) -> TrainingConfig:
    if base.estimator == "lgbm":
        params = {
            "num_leaves": trial.suggest_int("num_leaves", 7, 31),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.1, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.1, 0.6),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 50, 400, log=True),
        }
    else:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        }
    blocks = ["market"] + [
        b for b in OPTIONAL_BLOCKS if trial.suggest_categorical(f"use_{b}", [True, False])
    ]
    return base.model_copy(update={"params": {**base.params, **params}, "blocks": tuple(blocks)})


def run_tune(
    env: MLEnvironment,
    base: TrainingConfig,
    *,
    storage_url: str,
    study_name: str,
    n_trials: int,
    batch: int = 2,
    objective_horizon: Horizon = Horizon.D1,
    symbols: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    horizons = tuple(sorted(set(base.horizons) | {objective_horizon}, key=lambda h: h.hours))
    base = base.model_copy(update={"horizons": horizons})
    dataset = env.dataset(symbols, start, end, horizons)
    storage = optuna.storages.RDBStorage(url=storage_url)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=base.seed),
    )
    evaluations: list[Evaluation] = []
    trials_out: list[dict[str, Any]] = []
    sha = git_sha()
    done = 0
    while done < n_trials:
        asked = [study.ask() for _ in range(min(batch, n_trials - done))]
        configs = [suggest(t, base) for t in asked]
        results = evaluate_configs(
            dataset,
            configs,
            executor=env.executor,
            workers=env.workers,
            ray_address=env.ray_address,
            oracle_ic=env.oracle_ic(),
        )
        for trial, config, evaluation in zip(asked, configs, results, strict=True):
            value = evaluation.report["per_horizon"][objective_horizon.value]["rank_ic_mean"]
            objective = float(value) if value is not None else float("-inf")
            study.tell(
                trial,
                objective if value is not None else None,
                state=None if value is not None else optuna.trial.TrialState.FAIL,
            )
            run_id = new_run_id("tune")
            record_run(
                env.engine,
                run_id=run_id,
                kind="tune-trial",
                estimator=config.estimator,
                symbols=dataset.symbols,
                horizons=config.horizons,
                windows=_windows(dataset, evaluation),
                contract_hash=dataset.contract.contract_hash,
                evaluated_contract_hash=dataset.contract.contract_hash,
                data_manifest_hash=dataset.data_manifest_hash,
                config_hash=config.config_hash,
                seed=config.seed,
                n_trials=len(study.trials),
                metrics={
                    "study": study_name,
                    "trial": trial.number,
                    "objective": value,
                    "per_horizon": public_report(evaluation.report)["per_horizon"],
                },
                sha=sha,
            )
            trials_out.append(
                {
                    "number": trial.number,
                    "value": value,
                    "params": trial.params,
                    "run_id": run_id,
                    "config_hash": config.config_hash,
                }
            )
            evaluations.append(evaluation)
        done += len(asked)
        if progress:
            progress(done, n_trials)
    finished = [t for t in study.trials if t.value is not None]
    best = max(finished, key=lambda t: float(t.value or 0.0)) if finished else None
    return {
        "study": study_name,
        "objective": f"mean fold rank IC at {objective_horizon.value}",
        "n_trials": len(study.trials),
        "trials_this_run": trials_out,
        "best": {"number": best.number, "value": best.value, "params": best.params}
        if best
        else None,
        "overfitting": overfitting_stats(evaluations, objective_horizon),
        "contract_hash": dataset.contract.contract_hash,
        "data_manifest_hash": dataset.data_manifest_hash,
        "passed": best is not None,
    }
