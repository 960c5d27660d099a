"""Several configurations of one strategy on the same data, and the record of having tried them.

Trying many parameter sets and keeping the best inflates the best one's Sharpe
ratio. The record of every try is what lets the profitability gate deflate it
(deflated Sharpe ratio) and estimate the probability of backtest overfitting:

    <run_id>/                 the best trial's outputs (config, trades, trace, equity,
                              metrics), so the gate and tools read it like any run
    <run_id>/trials.json      every trial: parameters, config hash, headline figures
    <run_id>/trial_returns.parquet
                              daily returns of every trial on their common days
    <run_id>/trials/<k>/      each trial's own complete run folder
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from quantgate.core.errors import ConfigurationError
from quantgate.engine.backtest import (
    CONFIG_FILE,
    EQUITY_FILE,
    METRICS_FILE,
    RUN_FILE,
    TRACE_FILE,
    TRADES_FILE,
    Backtest,
    BacktestConfig,
    BacktestResult,
    copy_outputs,
    json_default,
    new_run_id,
    read_json,
)
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.metrics import aligned_daily_returns
from quantgate.storage.lake import Lake
from quantgate.strategy.registry import resolved_params

TRIALS_FILE = "trials.json"
TRIAL_RETURNS_FILE = "trial_returns.parquet"
TRIALS_DIR = "trials"

TrialProgress = Callable[[int, int, str], None]


def parse_value(text: str) -> Any:
    """A parameter value from the command line: JSON when it parses, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: Sequence[str], option: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"cannot read {item!r}", field=option, fix=f"write {option} name=value"
            )
        values[name.strip()] = parse_value(text.strip())
    return values


def parse_grid(items: Sequence[str]) -> list[dict[str, Any]]:
    """`name=v1,v2` options to the cartesian product of their values (one dict per trial)."""
    axes: dict[str, list[Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ConfigurationError(
                f"cannot read {item!r}", field="--grid", fix="write --grid name=v1,v2,v3"
            )
        values = [parse_value(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise ConfigurationError(
                f"{item!r} lists no values", field="--grid", fix="write --grid name=v1,v2,v3"
            )
        axes[name.strip()] = values
    if not axes:
        return [{}]
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _plain_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        # 100000, 100000.0 and 1E+5 are one amount; their JSON (and hash) must be one text.
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {key: _plain_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_decimals(item) for item in value]
    return value


def canonical(config: BacktestConfig) -> BacktestConfig:
    """The same backtest spelt one way, so that its config hash changes only with what
    changes results: the strategy's every parameter resolved (a default given explicitly,
    or 48.0 for an integer 48, is the same run) and amounts in plain decimal form."""
    values = config.model_dump(mode="python")
    values["params"] = resolved_params(config.strategy, config.params)
    resolved = BacktestConfig.parse(_plain_decimals(values), where="backtest")
    assert isinstance(resolved, BacktestConfig)
    return resolved


def with_params(base: BacktestConfig, overrides: Mapping[str, Any]) -> BacktestConfig:
    config = BacktestConfig.parse(
        {**base.model_dump(mode="json"), "params": {**base.params, **overrides}},
        where="backtest",
    )
    assert isinstance(config, BacktestConfig)
    return canonical(config)


def grid_configs(base: BacktestConfig, grid: Sequence[Mapping[str, Any]]) -> list[BacktestConfig]:
    """One config per grid entry, refusing two that are the same run: a repeated trial
    would count as an independent try in the deflated Sharpe ratio and PBO."""
    configs = [with_params(base, overrides) for overrides in (grid or [{}])]
    first_of: dict[str, int] = {}
    for index, config in enumerate(configs):
        earlier = first_of.setdefault(config.config_hash, index)
        if earlier != index:
            raise ConfigurationError(
                f"grid entries {dict(grid[earlier])} and {dict(grid[index])} are the same "
                "configuration",
                field="--grid",
                fix="list each value once (24 and 24.0, or a value equal to the default, "
                "are the same)",
            )
    return configs


def _score(metrics: Mapping[str, Any]) -> float:
    sharpe = metrics.get("sharpe")
    return -math.inf if sharpe is None else float(sharpe)


def run_trials(
    base: BacktestConfig,
    grid: Sequence[Mapping[str, Any]],
    root: Path,
    *,
    lake: Lake | None = None,
    feed: FrameBarFeed | None = None,
    progress: TrialProgress | None = None,
    checkpoint_every: int | None = None,
) -> BacktestResult:
    """Run every configuration of `grid` (parameter overrides of `base`), keep the best
    by net Sharpe, and record all of them (see the module docstring)."""
    if len(grid) < 2:
        raise ConfigurationError("a grid needs at least two configurations", field="--grid")
    configs = grid_configs(base, grid)
    run_dir = Path(root) / new_run_id(base.strategy)
    trials_root = run_dir / TRIALS_DIR
    results: list[BacktestResult] = []
    for index, config in enumerate(configs):
        name = f"{index:03d}"
        if progress is not None:
            progress(index, len(configs), name)
        # Makes the folders once the data is read: bad input leaves no grid folder behind.
        trial = Backtest.create(config, trials_root, lake=lake, feed=feed, run_id=name)
        if index == 0:
            (run_dir / RUN_FILE).write_text(
                json.dumps({"run_id": run_dir.name, "status": "running", "trials": len(configs)})
            )
        feed = trial.feed()  # read the data once, share it with the next trials
        results.append(trial.run(checkpoint_every=checkpoint_every))
    if progress is not None:
        progress(len(configs), len(configs), "done")
    best = max(range(len(results)), key=lambda i: _score(results[i].metrics))
    chosen = results[best]
    copy_outputs(
        chosen.run_dir, run_dir, (CONFIG_FILE, TRADES_FILE, TRACE_FILE, EQUITY_FILE, METRICS_FILE)
    )
    selected = {**chosen.metrics, "run_id": run_dir.name, "selected_trial": best}
    (run_dir / METRICS_FILE).write_text(
        json.dumps(selected, indent=2, default=json_default, allow_nan=False) + "\n"
    )
    records = []
    for index, (config, result) in enumerate(zip(configs, results, strict=True)):
        figures = result.metrics
        records.append(
            {
                "trial": index,
                "run_dir": str(result.run_dir.relative_to(run_dir)),
                "params": config.params,
                "config_hash": config.config_hash,
                "sharpe": figures.get("sharpe"),
                "net_return": figures.get("net_return"),
                "max_drawdown": figures.get("max_drawdown"),
                "round_trips": figures.get("round_trips"),
            }
        )
    (run_dir / TRIALS_FILE).write_text(
        json.dumps({"selected": best, "trials": records}, indent=2, default=json_default)
    )
    curves = [
        (f"t{index:03d}", pl.read_parquet(r.run_dir / EQUITY_FILE), float(c.capital))
        for index, (c, r) in enumerate(zip(configs, results, strict=True))
    ]
    aligned_daily_returns(curves).write_parquet(run_dir / TRIAL_RETURNS_FILE)
    run = read_json(chosen.run_dir / RUN_FILE)
    run.update(
        {
            "run_id": run_dir.name,
            "selected_trial": best,
            "trials": len(configs),
            "trials_file": TRIALS_FILE,
            "finished_at": datetime.now(UTC),
        }
    )
    (run_dir / RUN_FILE).write_text(json.dumps(run, indent=2, default=json_default))
    return BacktestResult(run_dir.name, run_dir, True, selected)
