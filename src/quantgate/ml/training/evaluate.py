"""Purged walk-forward evaluation: fan out (horizon × fold × trial) fits, score out of sample.

For every horizon the decision times are cut by `PurgedWalkForward` with that
horizon's label windows ``[t, t + h]`` (so purging is exact per horizon). Each
fold refits the market latent on its own training rows, masks the feature
blocks the config leaves out, fits a single-horizon model on (a seeded
subsample of at most ``max_train_rows`` of) the purged training rows and
predicts the test rows. Scores per (symbol, horizon, fold): IC, rank IC, hit
rate, expected calibration error of the direction probability, volatility
forecast error and a cost-aware long/short backtest of the raw signal (sign
weighting per symbol; a rank-weighted cross-sectional book per (horizon, fold)
under ``portfolio``). Per horizon: mean fold IC with a t confidence interval,
and, on the synthetic market, ``oracle_ic`` and ``ic_to_oracle`` (mean fold
pooled rank IC / oracle IC: the oracle is a pooled Spearman IC).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from quantgate.core.enums import Horizon
from quantgate.features.store import PROVENANCE
from quantgate.ml.calibration import (
    IsotonicCalibrator,
    direction_outcomes,
    expected_calibration_error,
)
from quantgate.ml.estimators import HorizonTargets
from quantgate.ml.labels import label_columns
from quantgate.ml.metrics import (
    hit_rate,
    information_coefficient,
    long_short_backtest,
    mean_confidence_interval,
    rank_information_coefficient,
    vol_forecast_error,
)
from quantgate.ml.splits import Fold, PurgedWalkForward
from quantgate.ml.training.config import TrainingConfig, make_estimator
from quantgate.ml.training.dataset import Dataset
from quantgate.ml.training.parallel import Executor, run_tasks

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FoldTask:
    trial: int
    horizon: Horizon
    fold: int
    train_idx: IntArray
    test_idx: IntArray
    config: TrainingConfig


@dataclass
class Evaluation:
    """Out-of-sample predictions and scores of one config."""

    config: TrainingConfig
    folds: dict[Horizon, list[Fold]]
    predictions: pl.DataFrame  # symbol, asof, horizon, fold, pred, vol, p_up, ret, rv, dir
    report: dict[str, Any] = field(default_factory=dict)

    def portfolio_returns(self, horizon: Horizon) -> FloatArray:
        """Net per-period returns of the rank-weighted book over all test folds, in time order."""
        parts = self.report.get("_portfolio_returns", {}).get(horizon.value, [])
        return np.concatenate(parts) if parts else np.zeros(0)


def make_folds(dataset: Dataset, config: TrainingConfig) -> dict[Horizon, list[Fold]]:
    splitter = PurgedWalkForward(
        n_folds=config.n_folds,
        initial_train_groups=config.initial_train_groups,
        embargo=timedelta(hours=config.embargo_hours),
        min_train_rows=100,
    )
    times = dataset.times
    return {h: splitter.split(times, dataset.label_end(h)) for h in config.horizons}


def masked_columns(dataset: Dataset, blocks: Sequence[str] | None) -> IntArray:
    if blocks is None:
        return np.zeros(0, dtype=np.int64)
    index = dataset.contract.index
    return np.array(
        [
            index[c]
            for block in dataset.contract.blocks
            if block not in blocks
            for c in dataset.contract.block_columns(block)
        ],
        dtype=np.int64,
    )


def shared_payload(
    dataset: Dataset, folds: dict[Horizon, list[Fold]], tasks_latent: dict[str, Any]
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "X": dataset.features,
        "latent_columns": dataset.latent_columns(),
        "feature_names": list(dataset.contract.names),
        "blocks": {k: list(v) for k, v in dataset.blocks().items()},
    }
    for h in {h for h in folds}:
        y = dataset.labels(h)
        for key, values in y.items():
            payload[f"{key}_{h.value}"] = values
    payload.update(tasks_latent)
    return payload


def subsample(rows: IntArray, limit: int, seed: int) -> IntArray:
    if len(rows) <= limit:
        return rows
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=limit, replace=False))


def fit_predict(task: FoldTask, shared: dict[str, Any]) -> dict[str, FloatArray]:
    """Fit one single-horizon model on the fold's training rows; predict its test rows."""
    h = task.horizon
    config = task.config
    train = subsample(task.train_idx, config.max_train_rows, config.seed + 7919 * task.fold)
    latent = shared[f"latent_{h.value}_{task.fold}"]
    columns = np.asarray(shared["latent_columns"])

    def rows(idx: IntArray) -> NDArray[np.float32]:
        X = np.array(shared["X"][idx], dtype=np.float32)  # noqa: N806
        X[:, columns] = latent[idx]
        masked = shared.get(f"mask_{task.trial}")
        if masked is not None and len(masked):
            X[:, masked] = np.nan
        return X

    targets = {
        h: HorizonTargets.from_realised_vol(
            shared[f"ret_{h.value}"][train],
            shared[f"rv_{h.value}"][train],
            shared[f"dir_{h.value}"][train],
        )
    }
    estimator = make_estimator(config, (h,), config.task_threads)
    estimator.fit(
        rows(train), targets, feature_names=shared["feature_names"], blocks=shared["blocks"]
    )
    prediction = estimator.predict(rows(task.test_idx))[h]
    return {
        "pred": prediction.expected_return,
        "vol": prediction.vol_forecast,
        "p_up": prediction.direction_score,
    }


def fold_latents(dataset: Dataset, folds: dict[Horizon, list[Fold]]) -> dict[str, Any]:
    """market_latent values per (horizon, fold), each fitted on that fold's training rows."""
    out: dict[str, Any] = {}
    cache: dict[tuple[int, int], NDArray[np.float32]] = {}
    for h, fold_list in folds.items():
        for fold in fold_list:
            key = (int(fold.train_idx.min()), int(fold.train_idx.max()))
            if key not in cache:
                cache[key] = dataset.latent_values(fold.train_idx)[0]
            out[f"latent_{h.value}_{fold.index}"] = cache[key]
    return out


def evaluate_configs(
    dataset: Dataset,
    configs: Sequence[TrainingConfig],
    *,
    executor: Executor = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    oracle_ic: dict[str, float | None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> list[Evaluation]:
    """Walk-forward evaluate several configs (trials) in one fan-out; same folds for all."""
    base = configs[0]
    folds = make_folds(dataset, base)
    shared = shared_payload(dataset, folds, fold_latents(dataset, folds))
    tasks: list[FoldTask] = []
    for trial, config in enumerate(configs):
        shared[f"mask_{trial}"] = masked_columns(dataset, config.blocks)
        for h in config.horizons:
            for fold in folds[h]:
                tasks.append(FoldTask(trial, h, fold.index, fold.train_idx, fold.test_idx, config))
    results = run_tasks(
        fit_predict,
        tasks,
        shared,
        executor=executor,
        workers=workers,
        ray_address=ray_address,
        on_done=on_done,
    )
    evaluations = []
    for trial, config in enumerate(configs):
        mine = [(t, r) for t, r in zip(tasks, results, strict=True) if t.trial == trial]
        predictions = _prediction_frame(dataset, mine)
        evaluation = Evaluation(config, folds, predictions)
        evaluation.report = score(evaluation, oracle_ic or {})
        evaluations.append(evaluation)
    return evaluations


def _prediction_frame(
    dataset: Dataset, results: list[tuple[FoldTask, dict[str, FloatArray]]]
) -> pl.DataFrame:
    frames = []
    for task, out in results:
        idx = task.test_idx
        y = dataset.labels(task.horizon)
        frames.append(
            pl.DataFrame(
                {
                    "symbol": dataset.frame["symbol"].gather(idx),
                    "asof": dataset.frame["asof"].gather(idx),
                    PROVENANCE: dataset.frame[PROVENANCE].gather(idx),
                    "horizon": [task.horizon.value] * len(idx),
                    "fold": np.full(len(idx), task.fold, dtype=np.int64),
                    "pred": out["pred"],
                    "vol": out["vol"],
                    "p_up": out["p_up"],
                    "ret": y["ret"][idx],
                    "rv": y["rv"][idx],
                    "dir": y["dir"][idx],
                }
            )
        )
    return pl.concat(frames)


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def _scores(
    part: pl.DataFrame, horizon: Horizon, cost_bps: float, weighting: str
) -> dict[str, Any]:
    pred, ret = part["pred"].to_numpy(), part["ret"].to_numpy()
    vol_error = vol_forecast_error(part["vol"].to_numpy(), part["rv"].to_numpy()).to_dict()
    names = label_columns(horizon)
    book = long_short_backtest(
        part.select(
            "symbol", "asof", pl.col("pred").alias("signal"), pl.col("ret").alias(names.ret)
        ),
        "signal",
        horizon,
        cost_bps=cost_bps,
        weighting=weighting,  # type: ignore[arg-type]
    )
    return {
        "n": int(np.isfinite(pred * ret).sum()),
        "ic": _num(information_coefficient(pred, ret)),
        "rank_ic": _num(rank_information_coefficient(pred, ret)),
        "hit_rate": _num(hit_rate(pred, ret)),
        "ece": _num(expected_calibration_error(part["p_up"].to_numpy(), part["dir"].to_numpy())),
        "vol_forecast_error": {
            k: (_num(v) if isinstance(v, float) else v) for k, v in vol_error.items()
        },
        "backtest": {
            "net_sharpe": _num(book.net_sharpe),
            "max_drawdown": _num(book.max_drawdown),
            "mean_turnover": _num(book.mean_turnover),
            "n_periods": len(book.net_returns),
        },
        "_returns": book.net_returns,
    }


def score(evaluation: Evaluation, oracle_ic: dict[str, float | None]) -> dict[str, Any]:
    config = evaluation.config
    frame = evaluation.predictions
    per_fold: list[dict[str, Any]] = []
    portfolio: list[dict[str, Any]] = []
    per_horizon: dict[str, Any] = {}
    portfolio_returns: dict[str, list[FloatArray]] = {}
    for h in config.horizons:
        fold_ic, fold_rank = [], []
        for fold in evaluation.folds[h]:
            part = frame.filter((pl.col("horizon") == h.value) & (pl.col("fold") == fold.index))
            for symbol in sorted(part["symbol"].unique().to_list()):
                s = _scores(part.filter(pl.col("symbol") == symbol), h, config.cost_bps, "sign")
                s.pop("_returns")
                per_fold.append({"symbol": symbol, "horizon": h.value, "fold": fold.index, **s})
            pooled = _scores(part, h, config.cost_bps, "rank")
            portfolio_returns.setdefault(h.value, []).append(pooled.pop("_returns"))
            portfolio.append({"horizon": h.value, "fold": fold.index, **pooled})
            fold_ic.append(pooled["ic"] if pooled["ic"] is not None else math.nan)
            fold_rank.append(pooled["rank_ic"] if pooled["rank_ic"] is not None else math.nan)
        ic_ci = mean_confidence_interval(fold_ic)
        rank_ci = mean_confidence_interval(fold_rank)
        whole = frame.filter(pl.col("horizon") == h.value)
        oracle = oracle_ic.get(h.value)
        sharpes = [p["backtest"]["net_sharpe"] for p in portfolio if p["horizon"] == h.value]
        per_horizon[h.value] = {
            "n_folds": len(evaluation.folds[h]),
            "n_predictions": whole.height,
            "ic_mean": _num(ic_ci.mean),
            "ic_ci": ic_ci.to_dict(),
            "rank_ic_mean": _num(rank_ci.mean),
            "rank_ic_ci": rank_ci.to_dict(),
            "pooled_ic": _num(
                information_coefficient(whole["pred"].to_numpy(), whole["ret"].to_numpy())
            ),
            "pooled_rank_ic": _num(
                rank_information_coefficient(whole["pred"].to_numpy(), whole["ret"].to_numpy())
            ),
            "hit_rate": _num(hit_rate(whole["pred"].to_numpy(), whole["ret"].to_numpy())),
            "ece": _num(
                expected_calibration_error(whole["p_up"].to_numpy(), whole["dir"].to_numpy())
            ),
            "mean_fold_net_sharpe": _num(float(np.nanmean([s for s in sharpes if s is not None])))
            if any(s is not None for s in sharpes)
            else None,
            "oracle_ic": oracle,
            "ic_to_oracle": _num(rank_ci.mean / oracle) if oracle else None,
        }
    return {
        "per_horizon": per_horizon,
        "per_fold": per_fold,
        "portfolio": portfolio,
        "_portfolio_returns": portfolio_returns,
    }


def oos_calibration(
    evaluation: Evaluation, horizon: Horizon
) -> tuple[list[float], list[float]] | None:
    """Isotonic map raw confidence → P(direction right), fitted on out-of-sample predictions."""
    part = evaluation.predictions.filter(pl.col("horizon") == horizon.value)
    confidence, outcome = direction_outcomes(
        part["p_up"].to_numpy(), part["dir"].to_numpy(), threshold=0.5
    )
    confidence = confidence + 0.5  # raw confidence max(p, 1 - p)
    keep = np.isfinite(confidence) & np.isfinite(outcome)
    if keep.sum() < 10:
        return None
    table = IsotonicCalibrator().fit(confidence[keep], outcome[keep]).to_table()
    return [float(v) for v in table.x], [float(v) for v in table.y]


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if not k.startswith("_")}
