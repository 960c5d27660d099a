"""The `quantgate ml` flows: eval (walk-forward), train (eval + final fit + ONNX export), tune.

Each flow records its run(s) in `training_runs` and returns a JSON-ready report.
`MLEnvironment` carries what the flows need from the settings (lake, database
engine, data home, feature config, executor) so the CLI, the demo and the tests
drive the same code.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from quantgate.core.enums import Horizon
from quantgate.features import FeaturesConfig, feature_contract
from quantgate.features.store import PROVENANCE
from quantgate.ml.overfitting import deflated_sharpe_ratio, probability_of_backtest_overfitting
from quantgate.ml.splits import micros_to_iso
from quantgate.ml.training.config import TrainingConfig, make_estimator
from quantgate.ml.training.dataset import Dataset, load_dataset
from quantgate.ml.training.evaluate import (
    Evaluation,
    evaluate_configs,
    masked_columns,
    oos_calibration,
    public_report,
)
from quantgate.ml.training.parallel import Executor
from quantgate.ml.training.runs import fold_windows, git_sha, record_run
from quantgate.storage.lake import Lake, atomic_write_parquet

Progress = Callable[[int, int], None]


@dataclass
class MLEnvironment:
    lake: Lake
    engine: Engine
    home: Path
    features: FeaturesConfig
    executor: Executor = "local"
    workers: int | None = None
    ray_address: str | None = None
    num_threads: int = 2  # threads for the final fit

    @property
    def decision_delay(self) -> Any:
        from datetime import timedelta

        return timedelta(seconds=self.features.decision_delay_seconds)

    def oracle_ic(self) -> dict[str, float | None]:
        path = self.lake.root / "synthetic" / "manifest.json"
        if not path.is_file():
            return {}
        return dict(json.loads(path.read_text()).get("oracle_ic") or {})

    def dataset(
        self,
        symbols: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        horizons: Sequence[Horizon],
    ) -> Dataset:
        contract = feature_contract(self.features)
        return load_dataset(
            self.lake, symbols, start, end, horizons, contract, decision_delay=self.decision_delay
        )


def new_run_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _windows(dataset: Dataset, evaluation: Evaluation) -> list[dict[str, Any]]:
    times = dataset.times
    return [fold_windows(h, fold, times) for h, folds in evaluation.folds.items() for fold in folds]


def overfitting_stats(evaluations: Sequence[Evaluation], horizon: Horizon) -> dict[str, Any]:
    """DSR of the best configuration's OOS book and PBO (CSCV) over every configuration tried."""
    series = [e.portfolio_returns(horizon) for e in evaluations]
    n = len(series)
    out: dict[str, Any] = {"horizon": horizon.value, "n_trials": n}
    lengths = {len(s) for s in series}
    if not series or min(lengths) < 4:
        out.update(deflated_sharpe=None, pbo=None)
        return out
    sharpes = [float(np.mean(s) / np.std(s, ddof=1)) if np.std(s) > 0 else 0.0 for s in series]
    best = int(np.argmax(sharpes))
    try:
        if n >= 2:
            dsr = deflated_sharpe_ratio(series[best], n_trials=n, trials_sharpes=sharpes)
        else:
            dsr = deflated_sharpe_ratio(series[best], n_trials=1, trials_sharpe_variance=0.0)
        out["deflated_sharpe"] = dsr.to_dict()
    except Exception as error:
        out["deflated_sharpe"] = {"error": str(error)}
    if n >= 2 and len(lengths) == 1:
        matrix = np.column_stack(series)
        blocks = min(16, (matrix.shape[0] // 2) * 2)
        try:
            out["pbo"] = probability_of_backtest_overfitting(
                matrix, n_submatrices=max(2, blocks)
            ).to_dict()
        except Exception as error:
            out["pbo"] = {"error": str(error)}
    else:
        out["pbo"] = None
    return out


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    per_h = report["per_horizon"]
    return {
        "oracle_ic": {h: v["oracle_ic"] for h, v in per_h.items()},
        "ic_to_oracle": {h: v["ic_to_oracle"] for h, v in per_h.items()},
    }


def run_eval(
    env: MLEnvironment,
    config: TrainingConfig,
    *,
    symbols: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    dataset: Dataset | None = None,
    kind: str = "eval",
) -> tuple[dict[str, Any], Evaluation, Dataset]:
    dataset = dataset or env.dataset(symbols, start, end, config.horizons)
    evaluation = evaluate_configs(
        dataset,
        [config],
        executor=env.executor,
        workers=env.workers,
        ray_address=env.ray_address,
        oracle_ic=env.oracle_ic(),
        on_done=progress,
    )[0]
    report = public_report(evaluation.report)
    primary = Horizon.D1 if Horizon.D1 in config.horizons else config.horizons[0]
    report["overfitting"] = overfitting_stats([evaluation], primary)
    run_id = run_id or new_run_id(kind)
    payload = {
        "run_id": run_id,
        "kind": kind,
        "estimator": config.estimator,
        "symbols": list(dataset.symbols),
        "horizons": [h.value for h in config.horizons],
        "window": {"start": dataset.start.isoformat(), "end": dataset.end.isoformat()},
        "n_rows": dataset.n_rows,
        "n_folds": config.n_folds,
        "contract_hash": dataset.contract.contract_hash,
        "data_manifest_hash": dataset.data_manifest_hash,
        "git_sha": git_sha(),
        "config_hash": config.config_hash,
        "seed": config.seed,
        "n_trials": 1,
        "executor": env.executor,
        **_headline(report),
        **report,
    }
    if kind == "eval":
        payload["training_run_id"] = record_run(
            env.engine,
            run_id=run_id,
            kind="eval",
            estimator=config.estimator,
            symbols=dataset.symbols,
            horizons=config.horizons,
            windows=_windows(dataset, evaluation),
            contract_hash=dataset.contract.contract_hash,
            evaluated_contract_hash=dataset.contract.contract_hash,
            data_manifest_hash=dataset.data_manifest_hash,
            config_hash=config.config_hash,
            seed=config.seed,
            n_trials=1,
            metrics=_metrics(payload),
            sha=payload["git_sha"],
        )
    payload["passed"] = True
    return payload, evaluation, dataset


def _metrics(payload: dict[str, Any]) -> dict[str, Any]:
    keep = ("per_horizon", "portfolio", "per_fold", "overfitting", "oracle_ic", "ic_to_oracle")
    metrics: dict[str, Any] = json.loads(json.dumps({k: payload.get(k) for k in keep}, default=str))
    return metrics


def run_train(
    env: MLEnvironment,
    config: TrainingConfig,
    *,
    symbols: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    n_trials: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Walk-forward evaluation, then the final multi-horizon fit on every row, exported as ONNX."""
    from quantgate.ml.export.metadata import Provenance, TimeWindow
    from quantgate.ml.export.writer import export_model

    run_id = new_run_id("train")
    payload, evaluation, dataset = run_eval(
        env,
        config,
        symbols=symbols,
        start=start,
        end=end,
        run_id=run_id,
        progress=progress,
        kind="train",
    )
    rows = np.arange(dataset.n_rows, dtype=np.int64)
    latent_values, latent_fit = dataset.latent_values(rows)
    X = dataset.with_latent(latent_values)  # noqa: N806
    masked = masked_columns(dataset, config.blocks)
    if len(masked):
        X[:, masked] = np.nan
    estimator = make_estimator(config, config.horizons, env.num_threads)
    estimator.fit(
        X,
        {h: dataset.targets(h, rows) for h in config.horizons},
        feature_names=list(dataset.contract.names),
        blocks={k: list(v) for k, v in dataset.blocks().items()},
    )
    calibrated = []
    for h in config.horizons:
        knots = oos_calibration(evaluation, h)
        if knots is not None:
            estimator.set_confidence_calibration(h, *knots)
            calibrated.append(h.value)
    times = dataset.frame["asof"]
    test_start = min(int(f.test_idx.min()) for fs in evaluation.folds.values() for f in fs)
    directory = env.home / "models" / run_id
    provenance = Provenance(
        contract_hash=dataset.contract.contract_hash,
        train_window=TimeWindow(start=times.min(), end=times.max()),
        test_window=TimeWindow(start=times[test_start], end=times.max()),
        data_manifest_hash=dataset.data_manifest_hash,
        git_sha=payload["git_sha"],
        config_hash=config.config_hash,
        seed=config.seed,
        metrics={
            "oos": {h: _slim(v) for h, v in payload["per_horizon"].items()},
            "overfitting": json.loads(json.dumps(payload["overfitting"], default=str)),
            "market_latent": latent_fit,
            # Blocks left out are NaN at training; serving masks them the same way.
            "feature_blocks": None if config.blocks is None else list(config.blocks),
        },
        n_trials=max(1, n_trials),
    )
    probe = X[np.linspace(0, len(X) - 1, num=min(64, len(X)), dtype=np.int64)]
    metadata = export_model(estimator, directory, provenance, probe_rows=probe)
    oos_path = write_oos_predictions(evaluation, directory / OOS_PREDICTIONS_FILE)
    payload["artifact"] = {
        "path": str(directory),
        "oos_predictions": str(oos_path),
        "files": sorted(p.name for p in directory.iterdir()),
        "calibrated_horizons": calibrated,
        "parity": json.loads(metadata.model_dump_json()).get("parity"),
    }
    payload["n_trials"] = max(1, n_trials)
    payload["training_run_id"] = record_run(
        env.engine,
        run_id=run_id,
        kind="train",
        estimator=config.estimator,
        symbols=dataset.symbols,
        horizons=config.horizons,
        windows=_windows(dataset, evaluation),
        contract_hash=estimator_contract(metadata, dataset),
        evaluated_contract_hash=dataset.contract.contract_hash,
        data_manifest_hash=dataset.data_manifest_hash,
        config_hash=config.config_hash,
        seed=config.seed,
        n_trials=max(1, n_trials),
        metrics=_metrics(payload),
        artifact_path=str(directory),
        sha=payload["git_sha"],
    )
    return payload


OOS_PREDICTIONS_FILE = "oos_predictions.parquet"


def write_oos_predictions(evaluation: Evaluation, path: Path) -> Path:
    """The walk-forward out-of-sample predictions in the long format backtests read
    (`backtest --strategy ml_signal --predictions`): each row was predicted by a model
    that never saw it. Confidence is the raw max(p, 1 - p), not the calibration fitted
    on these same rows."""
    frame = evaluation.predictions.select(
        "symbol",
        "asof",
        # When the feature row's last input arrived: the backtest's leak check (ml_signal)
        # compares it with each prediction's decision time.
        PROVENANCE,
        "horizon",
        pl.col("pred").cast(pl.Float64).alias("expected_return"),
        pl.max_horizontal(pl.col("p_up"), 1.0 - pl.col("p_up"))
        .cast(pl.Float64)
        .alias("signal_confidence"),
        pl.col("vol").cast(pl.Float64).alias("vol_forecast"),
        "fold",
    ).sort("asof", "symbol", "horizon")
    atomic_write_parquet(frame, path)
    return path


def estimator_contract(metadata: Any, dataset: Dataset) -> str:
    value = getattr(metadata, "contract_hash", None)
    if value is None:
        value = getattr(getattr(metadata, "provenance", None), "contract_hash", None)
    return str(value or dataset.contract.contract_hash)


def _slim(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "ic_mean",
        "rank_ic_mean",
        "pooled_rank_ic",
        "hit_rate",
        "ece",
        "oracle_ic",
        "ic_to_oracle",
        "mean_fold_net_sharpe",
    )
    return {k: summary.get(k) for k in keys}


def summary_line(payload: dict[str, Any]) -> list[str]:
    lines = []
    for h, v in payload["per_horizon"].items():
        ci = v["ic_ci"]
        low = "n/a" if ci["low"] is None else f"{ci['low']:+.3f}"
        high = "n/a" if ci["high"] is None else f"{ci['high']:+.3f}"
        oracle = v.get("oracle_ic")
        ratio = v.get("ic_to_oracle")
        lines.append(
            f"{h:>3}: IC {_fmt(v['ic_mean'])} [{low}, {high}], rank IC {_fmt(v['rank_ic_mean'])}, "
            f"hit {_fmt(v['hit_rate'])}, ECE {_fmt(v['ece'])}, fold Sharpe "
            f"{_fmt(v['mean_fold_net_sharpe'])}"
            + (f", oracle {oracle:.3f}, ratio {_fmt(ratio)}" if oracle else "")
        )
    return lines


def _fmt(value: float | None) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:+.3f}"
    )


def iso(us: int) -> str:
    return micros_to_iso(us)
