"""allocator_v2: expected return over risk, under caps and a total risk budget.

Pipeline: active signals → correlation de-duplication → bets: one per symbol
(its signals' expected returns net, views.py), and one per group of legs (a
pair, sized as a whole in the proportions its strategy gave the legs, so caps
shrink the pair, never its hedge ratio) → fractional-Kelly mean–variance sizes under per-symbol,
per-bucket and gross caps and a portfolio-volatility budget (optimizer.py) →
a report of every constraint that bound, with its value in the uncapped
reference allocation and in the final one.

Any input it cannot trust raises AllocationError; the selector (selection.py)
then falls back to legacy and says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from quantgate.portfolio.views import (
    Duplicate,
    deduplicate,
    forecast_vols,
    leg_groups,
    signal_alpha,
    symbol_alphas,
)

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
        risk_model_missing: str | None = None,
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
        if risk_model is None and risk_model_missing is not None:
            raise AllocationError(f"no risk model: {risk_model_missing}")
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
        bets = _bets(kept, risk_model, config.assumed_annual_sharpe)
        if bets:
            final, reference_weights, extra = self._optimise(
                bets, risk_model, buckets, budget, report
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
        bets: list[_Bet],
        risk_model: RiskModel,
        buckets: Mapping[str, Bucket],
        budget: float,
        report: list[BoundConstraint],
    ) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
        config = self.config
        symbols = sorted({symbol for bet in bets for symbol in bet.legs})
        # legs: the signed weight of each symbol per unit size of each bet (w = legs @ x).
        legs = np.zeros((len(symbols), len(bets)), dtype=np.float64)
        for column, bet in enumerate(bets):
            for symbol, weight in bet.legs.items():
                legs[symbols.index(symbol), column] = weight
        loads = np.abs(legs)
        covariance = risk_model.covariance(symbols)
        symbol_buckets = [buckets.get(symbol, Bucket.OTHER) for symbol in symbols]
        bucket_names = sorted(set(symbol_buckets))
        members = np.asarray(
            [[b == name for b in symbol_buckets] for name in bucket_names], dtype=np.float64
        )
        shared = [row for row in range(len(symbols)) if np.count_nonzero(loads[row]) > 1]
        cap = config.max_weight_per_symbol
        problem = Problem(
            magnitudes=np.asarray([bet.alpha for bet in bets], dtype=np.float64),
            signed_covariance=legs.T @ covariance @ legs,
            risk_aversion=1.0 / config.kelly_fraction,
            upper=cap / np.max(loads, axis=0),
            bucket_loads=members @ loads,
            bucket_caps=np.asarray([config.bucket_cap(b) for b in bucket_names], dtype=np.float64),
            gross_cap=config.max_gross,
            risk_budget=budget,
            shared_loads=loads[shared],
            symbol_cap=cap,
        )
        uncapped = reference(problem)
        start = uncapped.magnitudes * feasibility_ratio(problem, uncapped.magnitudes)
        solution = solve(problem, start)
        report.extend(
            _binding(problem, legs, uncapped.magnitudes, solution.magnitudes, symbols, bucket_names)
        )
        final = legs @ solution.magnitudes
        before = legs @ uncapped.magnitudes
        vols = {symbol: risk_model.vol(symbol) for symbol in symbols}
        extra = {
            "ex_ante_vol": portfolio_vol(covariance, final),
            "reference_vol": portfolio_vol(covariance, before),
            "expected_portfolio_return": float(problem.magnitudes @ solution.magnitudes),
            "gross": float(np.sum(np.abs(final))),
            "net": float(np.sum(final)),
            "bucket_gross": {
                bucket.value: float(problem.bucket_loads[index] @ solution.magnitudes)
                for index, bucket in enumerate(bucket_names)
            },
            "vols": vols,
            "groups": {bet.name: dict(bet.legs) for bet in bets if len(bet.legs) > 1},
            "optimizer": {"iterations": solution.iterations, "message": solution.message},
        }
        return (
            {symbol: float(w) for symbol, w in zip(symbols, final, strict=True)},
            {symbol: float(w) for symbol, w in zip(symbols, before, strict=True)},
            extra,
        )


@dataclass(frozen=True, slots=True)
class _Bet:
    """What the optimiser sizes: one symbol in its direction, or a group's legs together."""

    name: str
    legs: dict[str, float]  # signed weight per unit size; absolute weights sum to 1
    alpha: float  # expected return per unit size, > 0


def _bets(
    kept: Sequence[Signal], risk_model: RiskModel, assumed_annual_sharpe: float
) -> list[_Bet]:
    """A bet per group of legs (views.leg_groups: a pair keeps the proportions its strategy
    sized the legs in), and one per symbol for the other signals, whose views net."""
    grouped = leg_groups(kept)
    lone = [s for s in kept if s.group is None or (s.strategy, s.group) not in grouped]
    bets = [
        _Bet(symbol, {symbol: math.copysign(1.0, alpha)}, abs(alpha))
        for symbol, alpha in symbol_alphas(
            lone, risk_model.vol, risk_model.horizon, assumed_annual_sharpe
        ).items()
        if alpha != 0.0
    ]
    for (strategy, group), members in sorted(grouped.items()):
        # Exact sums (fsum): a basket's legs give the same bet in any order.
        total = math.fsum(abs(m.target_exposure) for m in members)
        legs = {
            m.symbol: m.target_exposure / total for m in sorted(members, key=lambda m: m.symbol)
        }
        alpha = math.fsum(
            legs[m.symbol]
            * signal_alpha(m, risk_model.vol(m.symbol), risk_model.horizon, assumed_annual_sharpe)
            for m in members
        )
        if alpha > 0.0 and math.isfinite(alpha):
            bets.append(_Bet(f"{strategy}:{group}", legs, alpha))
    return bets


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


def _netting_note(capped: float, held: float) -> str:
    """Where bets offset each other on a symbol the caps hold their gross before netting
    (optimizer.py), which is more than the book holds: a report giving that gross alone
    reads as weights no position has, so it says both."""
    if held >= capped * (1.0 - _BINDING):
        return ""
    return f"the bets' gross before they net is at the cap; the weights held net to {held:.6g}"


def _binding(
    problem: Problem,
    legs: Array,
    uncapped: Array,
    final: Array,
    symbols: list[str],
    bucket_names: list[Bucket],
) -> list[BoundConstraint]:
    """The caps and budget at their limit in the final sizes, each with its value in the
    reference allocation: a symbol's and a bucket's gross weight, the portfolio's gross
    and volatility."""
    bound = []
    loads = np.abs(legs)
    held = np.abs(legs @ final)
    for index, symbol in enumerate(symbols):
        weight = float(loads[index] @ final)
        if _is_binding(weight, problem.symbol_cap):
            bound.append(
                BoundConstraint(
                    name="symbol_cap",
                    symbol=symbol,
                    before=float(loads[index] @ uncapped),
                    after=weight,
                    limit=problem.symbol_cap,
                    detail=_netting_note(weight, float(held[index])),
                )
            )
    for index, bucket in enumerate(bucket_names):
        load = problem.bucket_loads[index]
        gross = float(load @ final)
        cap = float(problem.bucket_caps[index])
        inside = [row @ load > 0 for row in loads]
        if _is_binding(gross, cap):
            note = _netting_note(gross, float(held[inside].sum()))
            bound.append(
                BoundConstraint(
                    name="bucket_cap",
                    bucket=bucket.value,
                    before=float(load @ uncapped),
                    after=gross,
                    limit=cap,
                    detail="; ".join(
                        filter(None, [", ".join(np.asarray(symbols)[inside].tolist()), note])
                    ),
                )
            )
    if _is_binding(float(np.sum(final)), problem.gross_cap):
        bound.append(
            BoundConstraint(
                name="gross_cap",
                before=float(np.sum(uncapped)),
                after=float(np.sum(final)),
                limit=problem.gross_cap,
                detail=_netting_note(float(np.sum(final)), float(held.sum())),
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
