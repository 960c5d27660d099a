"""The profitability gate: does a backtest make money after costs, without a fluke's shape?

It reads one backtest run folder (see engine.backtest) and reports net return,
Sharpe, Sortino, max drawdown, hit rate, turnover and costs, in total and by
horizon, bucket and symbol. When the run selected the best of several
configurations (engine.trials), it also reports the deflated Sharpe ratio of
the selected one and the probability of backtest overfitting across all of
them, and gates on those too.

It passes when every threshold holds (see ProfitabilityThresholds); every
failed threshold is a reason in the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.errors import DataError
from quantgate.engine.backtest import EQUITY_FILE, METRICS_FILE, RUN_FILE, read_json
from quantgate.engine.metrics import daily_returns
from quantgate.engine.trials import TRIAL_RETURNS_FILE, TRIALS_FILE
from quantgate.engine.validation import overfitting_figures

GATE_NAME = "profitability"


class ProfitabilityThresholds(ComponentConfig):
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


def _trials(run_dir: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    trials_path, returns_path = run_dir / TRIALS_FILE, run_dir / TRIAL_RETURNS_FILE
    if not trials_path.is_file() or not returns_path.is_file():
        return None
    trials = read_json(trials_path)
    returns = pl.read_parquet(returns_path)
    columns = [c for c in returns.columns if c != "day"]
    matrix = np.nan_to_num(returns.select(columns).to_numpy(), nan=0.0)
    selected = int(trials.get("selected", run.get("selected_trial", 0)))
    figures = overfitting_figures(matrix, selected)
    figures["selected_trial"] = selected
    figures["days"] = returns.height
    return figures


def evaluate_profitability(
    run_dir: Path, thresholds: ProfitabilityThresholds | None = None
) -> ProfitabilityResult:
    limits = thresholds or ProfitabilityThresholds()
    run_dir = Path(run_dir)
    try:
        run = read_json(run_dir / RUN_FILE)
        metrics = read_json(run_dir / METRICS_FILE)
        curve = pl.read_parquet(run_dir / EQUITY_FILE)
    except (OSError, ValueError) as error:
        raise DataError(
            f"run folder {run_dir} is incomplete or unreadable ({error})",
            source=str(run_dir),
            fix="re-run the backtest",
        ) from None
    daily = daily_returns(curve, float(metrics["initial_capital"]))
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
    trials = _trials(run_dir, run)
    figures["trials"] = trials
    if trials is not None:
        dsr = (trials.get("deflated_sharpe") or {}).get("dsr")
        if dsr is None or dsr < limits.min_deflated_sharpe:
            shown = "undefined" if dsr is None else f"{dsr:.3f}"
            reasons.append(
                f"deflated Sharpe {shown} over {trials['n_trials']} tried configurations is "
                f"below {limits.min_deflated_sharpe}"
            )
        pbo = (trials.get("pbo") or {}).get("pbo")
        if pbo is not None and pbo > limits.max_pbo:
            reasons.append(
                f"probability of backtest overfitting {pbo:.2f} exceeds {limits.max_pbo}"
            )
    return ProfitabilityResult(
        passed=not reasons,
        run_id=str(run.get("run_id", run_dir.name)),
        figures=figures,
        reasons=reasons,
        thresholds=limits.model_dump(mode="json"),
    )
