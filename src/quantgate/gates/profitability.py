"""The profitability gate: does a backtest make money after costs, without a fluke's shape?

It reads one backtest run folder (see engine.backtest) and reports net return,
Sharpe, Sortino, max drawdown, hit rate, turnover and costs, in total and by
horizon, bucket and symbol. When the run selected the best of several
configurations (engine.trials), it also reports the deflated Sharpe ratio of
the selected one and the probability of backtest overfitting across all of
them, and gates on those too.

It passes when every threshold holds (see ProfitabilityThresholds); every
failed threshold is a reason in the result. It judges only a complete run whose
files all read back whole: anything else is refused, never judged on what is left.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from quantgate.config.base import ComponentConfig
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.engine.backtest import (
    EQUITY_FILE,
    METRICS_FILE,
    RUN_FILE,
    TRACE_FILE,
    TRADES_FILE,
)
from quantgate.engine.metrics import daily_returns
from quantgate.engine.trials import TRIAL_RETURNS_FILE, TRIALS_FILE
from quantgate.engine.validation import overfitting_figures

GATE_NAME = "profitability"


class ProfitabilityThresholds(ComponentConfig):
    # A NaN threshold makes every comparison false, so a NaN limit would pass anything.
    model_config = ConfigDict(allow_inf_nan=False)

    # Net (after every cost) annualised Sharpe of daily returns must exceed this.
    min_net_sharpe: float = 0.0
    # Largest peak-to-trough loss of the equity curve must stay below this.
    max_drawdown: float = Field(0.30, gt=0.0, le=1.0)
    # A result from fewer closed round trips than this is not evidence.
    min_round_trips: int = Field(1, ge=0)
    # With several configurations tried: probability that the selected one's true Sharpe
    # beats the best of as many unskilled tries (deflated Sharpe) must reach this ...
    min_deflated_sharpe: float = Field(0.5, ge=0.0, le=1.0)
    # ... and the probability of backtest overfitting must stay at or below this.
    max_pbo: float = Field(0.5, ge=0.0, le=1.0)


@dataclass(frozen=True, slots=True)
class ProfitabilityResult:
    passed: bool
    run_id: str
    figures: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": GATE_NAME,
            "passed": self.passed,
            "run_id": self.run_id,
            "figures": self.figures,
            "reasons": self.reasons,
            "thresholds": self.thresholds,
        }


_BREAKDOWN_KEYS = (
    "fills",
    "notional",
    "turnover",
    "fees",
    "spread_impact_cost",
    "total_costs",
    "net_pnl",
    "round_trips",
    "hit_rate",
)


def _breakdown(groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        key: {name: figures.get(name) for name in _BREAKDOWN_KEYS}
        for key, figures in groups.items()
    }


# A single configuration has nothing to deflate; say so rather than leave a bare null.
_SINGLE_CONFIGURATION = {
    "n_trials": 1,
    "deflated_sharpe": None,
    "pbo": None,
    "note": "one configuration: deflated Sharpe and PBO need a grid (--grid)",
}

# metrics.json figures the gate compares or formats: finite numbers, or null when undefined
# (the backtest writes no NaN, so one here is damage, and it would break the JSON verdict).
_NUMERIC_FIGURES = (
    "net_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "hit_rate",
    "turnover",
    "annual_turnover",
)
_COUNT_FIGURES = ("round_trips", "fills")
_BREAKDOWN_GROUPS = ("by_horizon", "by_bucket", "by_symbol")

ColumnCheck = Callable[[pl.DataType], bool]
_EQUITY_COLUMNS: dict[str, ColumnCheck] = {
    "ts": lambda dtype: isinstance(dtype, pl.Datetime),
    "equity": lambda dtype: dtype.is_numeric(),
}
_TRIAL_RETURN_COLUMNS: dict[str, ColumnCheck] = {"day": lambda dtype: dtype.is_temporal()}


@dataclass(frozen=True, slots=True)
class _RunFiles:
    run: dict[str, Any]
    metrics: dict[str, Any]
    initial_capital: float
    curve: pl.DataFrame


def _damaged(path: Path, problem: str, *, field: str | None = None) -> DataError:
    return DataError(
        f"{problem}; the gate cannot judge run {path.parent.name}",
        source=str(path),
        field=field,
        fix="re-run the backtest (`quantgate backtest ...`) and judge the new run",
    )


def _read_object(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise _damaged(path, "missing") from None
    except (OSError, ValueError) as error:
        raise _damaged(path, f"not readable JSON ({error})") from None
    if not isinstance(payload, dict):
        raise _damaged(path, f"holds a JSON {type(payload).__name__}, not an object")
    return payload


def _read_table(path: Path, columns: Mapping[str, ColumnCheck]) -> pl.DataFrame:
    try:
        table = pl.read_parquet(path)
    except FileNotFoundError:
        raise _damaged(path, "missing") from None
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise _damaged(path, f"not a readable Parquet file ({error})") from None
    for name, fits in columns.items():
        if name not in table.columns or not fits(table.schema[name]):
            found = table.schema.get(name)
            raise _damaged(path, f"column {name!r} is missing or of the wrong type ({found})")
    return table


def _require_complete(run: dict[str, Any], run_dir: Path) -> None:
    status = run.get("status")
    if status == "complete":
        return
    run_id = run_dir.name  # what --run and --resume name it by
    state = "interrupted" if status == "interrupted" else f"unfinished (status {status!r})"
    raise ConfigurationError(
        f"run {run_id} is {state}; only a complete run can be judged",
        field="--run",
        fix=f"finish it with `quantgate backtest --resume {run_id}`, or name a complete run",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_metrics(metrics: dict[str, Any], path: Path) -> float:
    """The run's initial capital, once every figure the gate reads has its type."""
    try:
        initial = float(metrics["initial_capital"])
    except KeyError:
        raise _damaged(path, "no initial capital", field="initial_capital") from None
    except (TypeError, ValueError):
        raise _damaged(path, "initial capital is not a number", field="initial_capital") from None
    if not math.isfinite(initial) or initial <= 0:
        raise _damaged(path, f"initial capital {initial} is not above 0", field="initial_capital")
    for name in _NUMERIC_FIGURES:
        value = metrics.get(name)
        if value is not None and not (_is_number(value) and math.isfinite(value)):
            raise _damaged(path, f"{value!r} is not a finite number", field=name)
    for name in _COUNT_FIGURES:
        value = metrics.get(name)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
            raise _damaged(path, f"{value!r} is not a count", field=name)
    for name in _BREAKDOWN_GROUPS:
        groups = metrics.get(name, {})
        if not isinstance(groups, dict) or not all(isinstance(g, dict) for g in groups.values()):
            raise _damaged(path, "not an object of per-key figures", field=name)
    return initial


def _read_run(run_dir: Path) -> _RunFiles:
    run = _read_object(run_dir / RUN_FILE)
    # Before the other files: an unfinished run has not written them yet, and saying
    # how to finish it helps more than naming the first absent file.
    _require_complete(run, run_dir)
    metrics = _read_object(run_dir / METRICS_FILE)
    initial_capital = _check_metrics(metrics, run_dir / METRICS_FILE)
    curve = _read_table(run_dir / EQUITY_FILE, _EQUITY_COLUMNS)
    if curve.is_empty():
        raise _damaged(run_dir / EQUITY_FILE, "the equity curve has no rows: nothing to judge")
    # A trade log cut short can still be valid Parquet; the metrics' fill count catches it.
    trades = _read_table(run_dir / TRADES_FILE, {})
    fills = metrics.get("fills")
    if fills is not None and fills != trades.height:
        raise _damaged(
            run_dir / TRADES_FILE, f"{trades.height} fills, but {METRICS_FILE} counts {fills}"
        )
    # The costs reported come from the execution trace (one row per fill): without it
    # whole, the cost figures have nothing behind them.
    trace = _read_table(run_dir / TRACE_FILE, {})
    if trace.height != trades.height:
        raise _damaged(
            run_dir / TRACE_FILE,
            f"{trace.height} traced fills, but {TRADES_FILE} has {trades.height}",
        )
    return _RunFiles(run, metrics, initial_capital, curve)


def _is_grid(run_dir: Path, run: dict[str, Any]) -> bool:
    files = (run_dir / TRIALS_FILE, run_dir / TRIAL_RETURNS_FILE)
    return run.get("trials") is not None or any(path.exists() for path in files)


def _grid_trials(run_dir: Path, run: dict[str, Any]) -> dict[str, Any]:
    trials_path, returns_path = run_dir / TRIALS_FILE, run_dir / TRIAL_RETURNS_FILE
    trials = _read_object(trials_path)
    returns = _read_table(returns_path, _TRIAL_RETURN_COLUMNS)
    columns = [c for c in returns.columns if c != "day"]
    if len(columns) < 2 or not all(returns.schema[c].is_numeric() for c in columns):
        raise _damaged(returns_path, "needs a numeric daily-return column per trial, two or more")
    selected = trials.get("selected", run.get("selected_trial", 0))
    if not isinstance(selected, int) or isinstance(selected, bool):
        raise _damaged(trials_path, f"{selected!r} is not a trial number", field="selected")
    if not 0 <= selected < len(columns):
        raise _damaged(
            trials_path, f"trial {selected} is not one of {len(columns)}", field="selected"
        )
    matrix = np.nan_to_num(returns.select(columns).to_numpy(), nan=0.0)
    figures = overfitting_figures(matrix, selected)
    figures["selected_trial"] = selected
    figures["days"] = returns.height
    return figures


def _trial_reasons(trials: dict[str, Any], limits: ProfitabilityThresholds) -> list[str]:
    reasons = []
    dsr = (trials.get("deflated_sharpe") or {}).get("dsr")
    if dsr is None or dsr < limits.min_deflated_sharpe:
        shown = "undefined" if dsr is None else f"{dsr:.3f}"
        reasons.append(
            f"deflated Sharpe {shown} over {trials['n_trials']} tried configurations is "
            f"below {limits.min_deflated_sharpe}"
        )
    pbo = (trials.get("pbo") or {}).get("pbo")
    if pbo is not None and pbo > limits.max_pbo:
        reasons.append(f"probability of backtest overfitting {pbo:.2f} exceeds {limits.max_pbo}")
    return reasons


def evaluate_profitability(
    run_dir: Path, thresholds: ProfitabilityThresholds | None = None
) -> ProfitabilityResult:
    """The verdict on one complete run. Raises ConfigurationError for a run that is not
    complete and DataError for a run file that is missing or does not read back whole."""
    limits = thresholds or ProfitabilityThresholds()
    run_dir = Path(run_dir)
    files = _read_run(run_dir)
    run, metrics = files.run, files.metrics
    daily = daily_returns(files.curve, files.initial_capital)
    figures: dict[str, Any] = {
        "net_return": metrics.get("net_return"),
        "net_pnl": metrics.get("net_pnl"),
        "final_equity": metrics.get("final_equity"),
        "sharpe": metrics.get("sharpe"),
        "sortino": metrics.get("sortino"),
        "max_drawdown": metrics.get("max_drawdown"),
        "hit_rate": metrics.get("hit_rate"),
        "round_trips": metrics.get("round_trips"),
        "turnover": metrics.get("turnover"),
        "annual_turnover": metrics.get("annual_turnover"),
        "costs": {
            "fees": metrics.get("fees"),
            "spread_impact_cost": metrics.get("spread_impact_cost"),
            "total": metrics.get("total_costs"),
        },
        "days": daily.height,
        "by_horizon": _breakdown(metrics.get("by_horizon", {})),
        "by_bucket": _breakdown(metrics.get("by_bucket", {})),
        "by_symbol": _breakdown(metrics.get("by_symbol", {})),
        "strategy": run.get("strategy"),
        "strategy_params": run.get("strategy_params"),
        "window": {"start": run.get("start"), "end": run.get("end")},
        "config_hash": run.get("config_hash"),
        "data_manifest_hash": run.get("data_manifest_hash"),
        "git_sha": run.get("git_sha"),
    }
    reasons = []
    sharpe = figures["sharpe"]
    if sharpe is None or not math.isfinite(sharpe):
        reasons.append("net Sharpe is undefined (no return variation: nothing traded?)")
    elif sharpe <= limits.min_net_sharpe:
        reasons.append(f"net Sharpe {sharpe:.3f} is not above {limits.min_net_sharpe}")
    drawdown = figures["max_drawdown"]
    if drawdown is not None and drawdown >= limits.max_drawdown:
        reasons.append(f"max drawdown {drawdown:.1%} is not below {limits.max_drawdown:.0%}")
    if (figures["round_trips"] or 0) < limits.min_round_trips:
        reasons.append(
            f"{figures['round_trips'] or 0} closed round trips, fewer than {limits.min_round_trips}"
        )
    if _is_grid(run_dir, run):
        figures["trials"] = _grid_trials(run_dir, run)
        reasons.extend(_trial_reasons(figures["trials"], limits))
    else:
        figures["trials"] = dict(_SINGLE_CONFIGURATION)
    return ProfitabilityResult(
        passed=not reasons,
        run_id=str(run.get("run_id", run_dir.name)),
        figures=figures,
        reasons=reasons,
        thresholds=limits.model_dump(mode="json"),
    )
