"""Walk-forward validation of a strategy's parameter choice, written as reviewable artifacts.

Every candidate parameter set is backtested once over the whole window (each
its own run folder). The daily returns are then cut into an initial training
span followed by `folds` consecutive test blocks. For each fold the candidate
with the best Sharpe ratio on everything before the block (expanding window) is
selected, and its returns *in* the block are its out-of-sample result. Because
each candidate's path is one continuous run, the selection at a fold uses only
days before that fold, and the out-of-sample days are never used to choose.

Output: `<out>/<UTC timestamp>/manifest.json` (git SHA of the code, data
manifest hash, parameter snapshots of every candidate, per-fold selections and
out-of-sample figures, deflated Sharpe and PBO across candidates) and
`<out>/<timestamp>/runs/<candidate>/` (the candidates' run folders).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.engine.backtest import (
    EQUITY_FILE,
    RUN_FILE,
    Backtest,
    BacktestConfig,
    json_default,
    read_json,
)
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.metrics import PERIODS_PER_YEAR, aligned_daily_returns, finite
from quantgate.engine.provenance import git_dirty, git_sha
from quantgate.engine.trials import grid_configs
from quantgate.ml.overfitting import (
    deflated_sharpe_ratio,
    max_drawdown,
    probability_of_backtest_overfitting,
    sharpe_ratio,
    sortino_ratio,
)
from quantgate.storage.lake import Lake
from quantgate.strategy.registry import strategy_config

MANIFEST_FILE = "manifest.json"

ValidationProgress = Callable[[int, int, str], None]


class WalkForwardConfig(ComponentConfig):
    folds: int = Field(4, ge=1, le=100)
    # Share of the window's days that only ever trains (the first fold's selection span).
    initial_train_fraction: float = Field(0.4, gt=0.0, lt=1.0)
    # Fewer test days than this in a fold is an error: the figures would be noise.
    min_test_days: int = Field(5, ge=2)


def _figures(returns: np.ndarray[Any, Any]) -> dict[str, Any]:
    if len(returns) == 0:
        return {
            "days": 0,
            "net_return": None,
            "sharpe": None,
            "sortino": None,
            "max_drawdown": None,
        }
    return {
        "days": len(returns),
        "net_return": float(np.prod(1.0 + returns) - 1.0),
        "sharpe": finite(sharpe_ratio(returns, PERIODS_PER_YEAR)),
        "sortino": finite(sortino_ratio(returns, PERIODS_PER_YEAR)),
        "max_drawdown": finite(max_drawdown(returns)),
    }


def fold_bounds(days: int, config: WalkForwardConfig) -> list[tuple[int, int]]:
    """(test start, test end) day indices of each fold; training is everything before."""
    first = int(days * config.initial_train_fraction)
    span = days - first
    size = span // config.folds
    if first < 2 or size < config.min_test_days:
        raise ConfigurationError(
            f"{days} days cannot hold {config.folds} test folds of at least "
            f"{config.min_test_days} days after {first} training days",
            field="--folds",
            fix="use fewer folds or a longer window",
        )
    bounds = [(first + k * size, first + (k + 1) * size) for k in range(config.folds)]
    bounds[-1] = (bounds[-1][0], days)
    return bounds


def _best(train: np.ndarray[Any, Any]) -> tuple[int, list[float | None]]:
    scores = [finite(sharpe_ratio(train[:, j], PERIODS_PER_YEAR)) for j in range(train.shape[1])]
    ranked = [-math.inf if s is None else s for s in scores]
    return int(np.argmax(ranked)), scores


def overfitting_figures(matrix: np.ndarray[Any, Any], chosen: int) -> dict[str, Any]:
    """Deflated Sharpe of `chosen` among all columns, and PBO by CSCV, where computable."""
    n_days, n_configs = matrix.shape
    result: dict[str, Any] = {"n_trials": n_configs, "deflated_sharpe": None, "pbo": None}
    if n_configs < 2:
        result["note"] = "one configuration: nothing to deflate"
        return result
    sharpes = [sharpe_ratio(matrix[:, j]) for j in range(n_configs)]
    finite_sharpes = [s for s in sharpes if math.isfinite(s)]
    if len(finite_sharpes) >= 2:
        result["deflated_sharpe"] = deflated_sharpe_ratio(
            matrix[:, chosen], n_trials=n_configs, trials_sharpes=finite_sharpes
        ).to_dict()
    for submatrices in (16, 8, 4, 2):
        if n_days // submatrices >= 2 and math.comb(submatrices, submatrices // 2) >= 2:
            result["pbo"] = probability_of_backtest_overfitting(
                matrix, n_submatrices=submatrices
            ).to_dict()
            break
    return result


def validate_artifacts(
    base: BacktestConfig,
    grid: Sequence[Mapping[str, Any]],
    out_root: Path,
    *,
    lake: Lake | None = None,
    feed: FrameBarFeed | None = None,
    walk_forward: WalkForwardConfig | None = None,
    progress: ValidationProgress | None = None,
) -> tuple[Path, dict[str, Any]]:
    config = walk_forward or WalkForwardConfig()
    # The daily returns span at most the window's calendar days and the closing bar's
    # day, so a window too short for the folds fails here, before any backtest runs.
    fold_bounds(math.ceil((base.end - base.start) / timedelta(days=1)) + 1, config)
    candidates = grid_configs(base, grid)
    # The code that runs: read once, before it runs (HEAD may move while it does).
    code = {"git_sha": git_sha(), "git_dirty": git_dirty()}
    root = Path(out_root).absolute()
    made = [path for path in (root, *root.parents) if not path.exists()]
    folder = _new_folder(root)
    try:
        manifest = _validate_into(
            folder, base, candidates, config, code, lake=lake, feed=feed, progress=progress
        )
    except BaseException:
        # A validation folder is there whole, with its manifest, or not at all; so are
        # the folders made to hold it, unless something else has moved in meanwhile.
        shutil.rmtree(folder, ignore_errors=True)
        for path in made:
            try:
                path.rmdir()
            except OSError:
                break
        raise
    return folder, manifest


def _new_folder(root: Path) -> Path:
    """A folder of this validation's own, named by its start time: never one another
    validation started in the same microsecond made (a failure removes its folder)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for attempt in range(1000):
        folder = root / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise ProgrammerError(f"no free validation folder name under {root} for {stamp}")


def _validate_into(
    folder: Path,
    base: BacktestConfig,
    candidates: Sequence[BacktestConfig],
    config: WalkForwardConfig,
    code: dict[str, Any],
    *,
    lake: Lake | None,
    feed: FrameBarFeed | None,
    progress: ValidationProgress | None,
) -> dict[str, Any]:
    runs = folder / "runs"
    results = []
    for index, candidate in enumerate(candidates):
        name = f"c{index:03d}"
        if progress is not None:
            progress(index, len(candidates), name)
        backtest = Backtest.create(candidate, runs, lake=lake, feed=feed, run_id=name)
        feed = backtest.feed()
        results.append(backtest.run())
    if progress is not None:
        progress(len(candidates), len(candidates), "walk-forward")
    curves = [
        (f"c{i:03d}", pl.read_parquet(r.run_dir / EQUITY_FILE), float(c.capital))
        for i, (c, r) in enumerate(zip(candidates, results, strict=True))
    ]
    aligned = aligned_daily_returns(curves)
    names = [name for name, _, _ in curves]
    matrix = aligned.select(names).to_numpy() if aligned.height else np.zeros((0, len(names)))
    matrix = np.nan_to_num(matrix, nan=0.0)
    days = [d.isoformat() for d in aligned["day"].to_list()] if aligned.height else []
    folds, oos = [], []
    for number, (test_start, test_end) in enumerate(fold_bounds(len(days), config)):
        chosen, scores = _best(matrix[:test_start])
        test = matrix[test_start:test_end, chosen]
        oos.append(test)
        folds.append(
            {
                "fold": number,
                "train": {
                    "first_day": days[0],
                    "last_day": days[test_start - 1],
                    "days": test_start,
                },
                "test": {"first_day": days[test_start], "last_day": days[test_end - 1]},
                "train_sharpes": scores,
                "selected": chosen,
                "selected_params": candidates[chosen].params,
                "out_of_sample": _figures(test),
            }
        )
    full_best, _ = _best(matrix)
    run_record = read_json(results[0].run_dir / RUN_FILE)
    manifest = {
        "kind": "walk_forward_validation",
        "created_at": datetime.now(UTC),
        **code,
        "strategy": base.strategy,
        "symbols": list(base.symbols),
        "start": base.start,
        "end": base.end,
        "data": run_record.get("data"),
        "data_manifest_hash": run_record.get("data_manifest_hash"),
        "walk_forward_config": config.model_dump(mode="json"),
        "candidates": [
            {
                "candidate": index,
                "run_dir": str(result.run_dir.relative_to(folder)),
                "params": candidate.params,
                "parameter_snapshot": strategy_config(
                    candidate.strategy, candidate.params
                ).model_dump(mode="json"),
                "strategy_config_hash": strategy_config(
                    candidate.strategy, candidate.params
                ).config_hash,
                "config_hash": candidate.config_hash,
                "full_window": {
                    key: result.metrics.get(key)
                    for key in (
                        "net_return",
                        "sharpe",
                        "sortino",
                        "max_drawdown",
                        "hit_rate",
                        "round_trips",
                        "turnover",
                        "total_costs",
                    )
                },
            }
            for index, (candidate, result) in enumerate(zip(candidates, results, strict=True))
        ],
        "walk_forward": {
            "days": len(days),
            "folds": folds,
            "out_of_sample": _figures(np.concatenate(oos) if oos else np.zeros(0)),
        },
        "overfitting": overfitting_figures(matrix, full_best) if len(days) else None,
    }
    (folder / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, default=json_default, allow_nan=False) + "\n"
    )
    loaded: dict[str, Any] = json.loads(json.dumps(manifest, default=json_default))
    return loaded
