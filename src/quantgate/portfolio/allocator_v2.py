"""allocator_v2: expected return over risk, under caps and a total risk budget.

Pipeline: active signals → correlation de-duplication → per-symbol expected
returns (views.py) → fractional-Kelly mean–variance weights under per-symbol,
per-bucket and gross caps and a portfolio-volatility budget (optimizer.py) →
a report of every constraint that bound, with its value in the uncapped
reference allocation and in the final one.

Any input it cannot trust raises AllocationError; the selector (selection.py)
then falls back to legacy and says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Bucket, Horizon
from quantgate.core.signals import Signal
from quantgate.portfolio.errors import AllocationError
from quantgate.portfolio.optimizer import (
    Array,
    Problem,
    feasibility_ratio,
    portfolio_vol,
    reference,
    solve,
)
from quantgate.portfolio.result import AllocationResult, BoundConstraint
from quantgate.portfolio.risk_model import RiskModel
from quantgate.portfolio.views import Duplicate, deduplicate, forecast_vols, symbol_alphas

# A constraint counts as binding when the final value is this close to its limit.
_BINDING = 1e-6


class AllocatorV2Config(ComponentConfig):
    # Portfolio ex-ante volatility allowed over `budget_horizon` (e.g. 2% a day);
    # rescaled by √time to the risk model's horizon.
    risk_budget: float = Field(default=0.02, gt=0.0)
    budget_horizon: Horizon = Horizon.D1
    max_weight_per_symbol: float = Field(default=0.25, gt=0.0, le=10.0)
    bucket_caps: dict[Bucket, float] = Field(default_factory=dict)
    default_bucket_cap: float = Field(default=0.6, gt=0.0, le=10.0)
    max_gross: float = Field(default=1.0, gt=0.0, le=10.0)
    correlation_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    # Fraction of the Kelly-optimal (log-utility) weights: λ = 1 / kelly_fraction.
    kelly_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    # The Sharpe ratio assumed for rule signals that carry no expected return.
    assumed_annual_sharpe: float = Field(default=1.0, gt=0.0)

    def bucket_cap(self, bucket: Bucket) -> float:
        return self.bucket_caps.get(bucket, self.default_bucket_cap)


class AllocatorV2:
    name: ClassVar[str] = "allocator_v2"

    def __init__(self, config: AllocatorV2Config | None = None) -> None:
        self.config = config or AllocatorV2Config()

    def allocate(
        self,
        signals: Sequence[Signal],
        risk_model: RiskModel | None,
        buckets: Mapping[str, Bucket] | None = None,
    ) -> AllocationResult:
        config = self.config
        buckets = buckets or {}
        active = [signal for signal in signals if not signal.is_exit]
        if not active:
            # Nothing to size: flat everywhere, which needs no risk model (and is no failure).
            return AllocationResult(
                allocator_used=self.name,
                requested=self.name,
                target_weights=dict(sorted((signal.symbol, 0.0) for signal in signals)),
                bound_constraints=[],
                fallback_reason=None,
                diagnostics={"active_signals": 0, "ex_ante_vol": 0.0, "gross": 0.0, "net": 0.0},
            )
        if risk_model is None:
            raise AllocationError(
                "no risk model was given (vols and correlations are required; a backtest has "
                "none until its history holds enough returns at the risk horizon)"
            )
        forecasts = forecast_vols(active, risk_model.horizon)
        risk_model = risk_model.with_vols(forecasts)
        kept, dropped = deduplicate(active, risk_model.correlation_of, config.correlation_threshold)
        alphas = symbol_alphas(
            kept, risk_model.vol, risk_model.horizon, config.assumed_annual_sharpe
        )
        if not all(math.isfinite(alpha) for alpha in alphas.values()):
            raise AllocationError(f"non-finite expected returns: {alphas}")
        traded = [symbol for symbol, alpha in alphas.items() if alpha != 0.0]
        weights = {signal.symbol: 0.0 for signal in signals}
        report = [
            _dedup_constraint(duplicate, config.correlation_threshold) for duplicate in dropped
        ]
        budget = config.risk_budget * math.sqrt(
            risk_model.horizon.hours / config.budget_horizon.hours
        )
        diagnostics: dict[str, Any] = {
            "active_signals": len(active),
            "kept_signals": len(kept),
            "dropped_signals": len(dropped),
            "risk_horizon": risk_model.horizon.value,
            "risk_budget": budget,
            "expected_returns": alphas,
            "vol_sources": {
                symbol: "forecast" if symbol in forecasts else "history" for symbol in alphas
            },
        }
        if traded:
            final, reference_weights, extra = self._optimise(
                traded, alphas, risk_model, buckets, budget, report
            )
            weights.update(final)
            diagnostics.update(extra)
            diagnostics["reference_weights"] = reference_weights
        else:
            diagnostics.update({"ex_ante_vol": 0.0, "gross": 0.0, "net": 0.0})
        return AllocationResult(
            allocator_used=self.name,
            requested=self.name,
            target_weights=dict(sorted(weights.items())),
            bound_constraints=report,
            fallback_reason=None,
            diagnostics=diagnostics,
        )

    def _optimise(
        self,
        traded: list[str],
        alphas: Mapping[str, float],
        risk_model: RiskModel,
        buckets: Mapping[str, Bucket],
        budget: float,
        report: list[BoundConstraint],
    ) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
        config = self.config
        covariance = risk_model.covariance(traded)
        signs = np.asarray([math.copysign(1.0, alphas[s]) for s in traded], dtype=np.float64)
        symbol_buckets = [buckets.get(symbol, Bucket.OTHER) for symbol in traded]
        bucket_names = sorted(set(symbol_buckets))
        problem = Problem(
            magnitudes=np.asarray([abs(alphas[s]) for s in traded], dtype=np.float64),
            signed_covariance=covariance * np.outer(signs, signs),
            risk_aversion=1.0 / config.kelly_fraction,
            symbol_cap=config.max_weight_per_symbol,
            buckets=np.asarray([bucket_names.index(b) for b in symbol_buckets]),
            bucket_caps=np.asarray([config.bucket_cap(b) for b in bucket_names], dtype=np.float64),
            gross_cap=config.max_gross,
            risk_budget=budget,
        )
        uncapped = reference(problem)
        start = uncapped.magnitudes * feasibility_ratio(problem, uncapped.magnitudes)
        solution = solve(problem, start)
        report.extend(
            _binding(problem, uncapped.magnitudes, solution.magnitudes, traded, bucket_names)
        )
        final = signs * solution.magnitudes
        vols = {symbol: risk_model.vol(symbol) for symbol in traded}
        extra = {
            "ex_ante_vol": portfolio_vol(covariance, final),
            "reference_vol": portfolio_vol(covariance, signs * uncapped.magnitudes),
            "expected_portfolio_return": float(np.asarray([alphas[s] for s in traded]) @ final),
            "gross": float(np.sum(np.abs(final))),
            "net": float(np.sum(final)),
            "bucket_gross": {
                bucket.value: float(np.sum(solution.magnitudes[problem.buckets == index]))
                for index, bucket in enumerate(bucket_names)
            },
            "vols": vols,
            "optimizer": {"iterations": solution.iterations, "message": solution.message},
        }
        return (
            {symbol: float(w) for symbol, w in zip(traded, final, strict=True)},
            {
                symbol: float(w)
                for symbol, w in zip(traded, signs * uncapped.magnitudes, strict=True)
            },
            extra,
        )


def _dedup_constraint(duplicate: Duplicate, threshold: float) -> BoundConstraint:
    dropped, kept = duplicate.dropped, duplicate.kept
    return BoundConstraint(
        name="correlation_dedup",
        symbol=dropped.symbol,
        before=dropped.target_exposure,
        after=0.0,
        limit=threshold,
        detail=(
            f"{dropped.strategy} on {dropped.symbol} duplicates the stronger "
            f"{kept.strategy} on {kept.symbol} (signed correlation "
            f"{duplicate.signed_correlation:.3f})"
        ),
    )


def _is_binding(value: float, limit: float) -> bool:
    return value >= limit * (1.0 - _BINDING)


def _binding(
    problem: Problem,
    uncapped: Array,
    final: Array,
    symbols: list[str],
    bucket_names: list[Bucket],
) -> list[BoundConstraint]:
    bound = []
    for index, symbol in enumerate(symbols):
        if _is_binding(float(final[index]), problem.symbol_cap):
            bound.append(
                BoundConstraint(
                    name="symbol_cap",
                    symbol=symbol,
                    before=float(uncapped[index]),
                    after=float(final[index]),
                    limit=problem.symbol_cap,
                )
            )
    for index, bucket in enumerate(bucket_names):
        members = problem.buckets == index
        gross = float(np.sum(final[members]))
        cap = float(problem.bucket_caps[index])
        if _is_binding(gross, cap):
            bound.append(
                BoundConstraint(
                    name="bucket_cap",
                    bucket=bucket.value,
                    before=float(np.sum(uncapped[members])),
                    after=gross,
                    limit=cap,
                    detail=", ".join(s for s, m in zip(symbols, members, strict=True) if m),
                )
            )
    if _is_binding(float(np.sum(final)), problem.gross_cap):
        bound.append(
            BoundConstraint(
                name="gross_cap",
                before=float(np.sum(uncapped)),
                after=float(np.sum(final)),
                limit=problem.gross_cap,
            )
        )
    vol = portfolio_vol(problem.signed_covariance, final)
    if _is_binding(vol, problem.risk_budget):
        bound.append(
            BoundConstraint(
                name="risk_budget",
                before=portfolio_vol(problem.signed_covariance, uncapped),
                after=vol,
                limit=problem.risk_budget,
            )
        )
    return bound
