"""`POST /api/v2/portfolio/rebalance`: target weights from signals with `allocator_v2` or
`legacy`, and every constraint that bound. Computes only — nothing is ordered or stored.

Without a risk model in the body, allocator_v2 uses one estimated from the last
`risk_lookback_days` of daily log returns in the lake (bars_1h closes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from quantgate.api.deps import Services
from quantgate.api.errors import error_responses
from quantgate.api.schemas import Symbol
from quantgate.core.buckets import bucket_of
from quantgate.core.enums import Horizon
from quantgate.core.signals import Signal
from quantgate.data.schema import BARS_1H
from quantgate.portfolio import AllocatorV2Config, PortfolioConfig, RiskModel, allocate
from quantgate.portfolio.result import AllocationResult
from quantgate.storage.lake import Lake

router = APIRouter(prefix="/api/v2/portfolio", tags=["portfolio"])

Unit = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: Symbol
    target_exposure: Annotated[float, Field(ge=-1.0, le=1.0, strict=True)]
    strength: Unit = 1.0
    horizon: Horizon = Horizon.D1
    expected_return: Annotated[float, Field(ge=-10.0, le=10.0, strict=True)] | None = None
    confidence: Unit | None = None
    vol_forecast: Annotated[float, Field(gt=0.0, le=10.0, strict=True)] | None = None
    strategy: Annotated[str, Field(min_length=1, max_length=64)] = "api"
    group: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class SymbolVol(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: Symbol
    vol: Annotated[float, Field(gt=0.0, le=10.0, strict=True)]


class PairCorrelation(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    a: Symbol
    b: Symbol
    rho: Annotated[float, Field(ge=-1.0, le=1.0, strict=True)]


class RiskModelIn(BaseModel):
    """Vols per symbol and pairwise correlations; a pair not listed has correlation 0, and a
    later entry for the same symbol or pair replaces an earlier one. A signal whose symbol
    has no vol makes allocator_v2 fall back to legacy (reported in `fallback_reason`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    vols: list[SymbolVol] = Field(min_length=1, max_length=500)
    correlations: list[PairCorrelation] = Field(default_factory=list, max_length=10_000)
    horizon: Horizon = Horizon.D1

    @field_validator("correlations")
    @classmethod
    def _pairs_of_known_symbols(
        cls, correlations: list[PairCorrelation], info: ValidationInfo
    ) -> list[PairCorrelation]:
        # Dropping such a pair would silently answer with a correlation the client never
        # meant (0 instead of the rho it sent, under a misspelt symbol).
        vols = info.data.get("vols")
        if vols is None:  # the vols failed validation themselves, and say so
            return correlations
        known = {item.symbol for item in vols}
        for number, pair in enumerate(correlations):
            if pair.a == pair.b:
                raise ValueError(
                    f"entry {number} pairs {pair.a} with itself: its correlation is 1 by "
                    "definition; remove the entry"
                )
            unknown = [symbol for symbol in (pair.a, pair.b) if symbol not in known]
            if unknown:
                raise ValueError(
                    f"entry {number} names {', '.join(unknown)}, which has no vol in "
                    "risk_model.vols: add its vol or remove the entry"
                )
        smallest = float(np.linalg.eigvalsh(_correlation_matrix(vols, correlations)).min())
        # A negative eigenvalue means some portfolio would have a negative variance: the
        # numbers are not correlations of any market (a rounding-sized one is tolerated).
        if smallest < -NEGATIVE_EIGENVALUE_TOLERANCE:
            raise ValueError(
                "the correlations are not those of any set of returns (the matrix has "
                f"eigenvalue {smallest:.4g} < 0): make them mutually consistent, e.g. "
                "from one sample of returns"
            )
        return correlations

    def to_risk_model(self) -> RiskModel:
        vols = {item.symbol: item.vol for item in self.vols}
        return RiskModel.from_vols(
            vols, _correlation_matrix(self.vols, self.correlations), self.horizon
        )


NEGATIVE_EIGENVALUE_TOLERANCE = 1e-9


def _correlation_matrix(
    vols: list[SymbolVol], correlations: list[PairCorrelation]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Rows and columns in the order of the symbols' first vols; a later entry for the same
    symbol or pair replaces an earlier one."""
    index = {symbol: i for i, symbol in enumerate(dict.fromkeys(v.symbol for v in vols))}
    correlation = np.eye(len(index))
    for pair in correlations:
        correlation[index[pair.a], index[pair.b]] = pair.rho
        correlation[index[pair.b], index[pair.a]] = pair.rho
    return correlation


class RebalanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    allocator: Literal["allocator_v2", "legacy"] = "allocator_v2"
    signals: list[SignalIn] = Field(
        min_length=1,
        max_length=500,
        description="at most one signal per (strategy, symbol); a second one is refused (422)",
    )
    risk_model: RiskModelIn | None = None
    risk_lookback_days: Annotated[int, Field(ge=10, le=3650, strict=True)] = 90

    @field_validator("signals")
    @classmethod
    def _one_view_per_strategy_and_symbol(cls, signals: list[SignalIn]) -> list[SignalIn]:
        # A strategy holds one target per symbol; two would be counted twice by `legacy`.
        seen: set[tuple[str, str]] = set()
        for signal in signals:
            key = (signal.strategy, signal.symbol)
            if key in seen:
                raise ValueError(
                    f"two signals of strategy {signal.strategy!r} for {signal.symbol}: send "
                    "one per strategy and symbol, or give them different strategy names"
                )
            seen.add(key)
        return signals


class RebalanceOut(BaseModel):
    allocator_used: str
    requested: str
    target_weights: dict[str, float]
    bound_constraints: list[dict[str, Any]]
    fallback_reason: str | None
    diagnostics: dict[str, Any]
    risk_model_source: str


def lake_risk_model(
    lake: Lake, symbols: list[str], days: int
) -> tuple[RiskModel | None, str | None]:
    """Daily log-return vols and correlations from the lake's newest `days` of hourly
    closes, or None and why there is none (allocator_v2's fallback reason)."""
    lazy = lake.scan(BARS_1H.name, symbols)
    newest = None if lazy is None else lazy.select(pl.col("ts").max()).collect().item()
    if not isinstance(newest, datetime):
        return None, f"the lake holds no {BARS_1H.name} bars for {', '.join(symbols)}"
    end = newest + timedelta(hours=1)
    bars = lake.read(BARS_1H.name, symbols, end - timedelta(days=days + 2), end)
    daily = (
        bars.sort("ts")
        .group_by_dynamic("ts", every="1d", group_by="symbol")
        .agg(pl.col("close").last())
        .pivot(on="symbol", index="ts", values="close")
        .sort("ts")
        if not bars.is_empty()
        else pl.DataFrame()
    )
    absent = [symbol for symbol in symbols if symbol not in daily.columns]
    if absent:
        return None, (
            f"the lake holds no {BARS_1H.name} bars for {', '.join(absent)} in the "
            f"{days} days before {end.isoformat()} (risk_lookback_days): send a risk_model"
        )
    closes = daily.select(symbols).drop_nulls().to_numpy().astype(np.float64)
    if len(closes) < 4:
        return None, (
            f"the lake holds {len(closes)} days with a close for every one of "
            f"{', '.join(symbols)} in the last {days} days, fewer than 4: send a risk_model"
        )
    returns = np.diff(np.log(closes), axis=0)
    model = RiskModel.from_returns({s: returns[:, i] for i, s in enumerate(symbols)}, Horizon.D1)
    return model, None


@router.post(
    "/rebalance",
    response_model=RebalanceOut,
    responses=error_responses(400, 413, 415, 422),
    summary="Target weights from signals, with every binding constraint",
)
def rebalance(services: Services, body: RebalanceRequest) -> RebalanceOut:
    now = datetime.now(UTC)
    signals = [
        Signal(
            symbol=s.symbol,
            asof=now,
            strategy=s.strategy,
            target_exposure=s.target_exposure,
            strength=s.strength,
            horizon=s.horizon,
            reason="api rebalance request",
            expected_return=s.expected_return,
            confidence=s.confidence,
            vol_forecast=s.vol_forecast,
            group=s.group,
        )
        for s in body.signals
    ]
    symbols = sorted({s.symbol for s in body.signals})
    risk_model: RiskModel | None = None
    risk_model_missing: str | None = None
    source = "none"  # legacy sizes without one, whatever the request sent
    if body.allocator == "allocator_v2" and body.risk_model is not None:
        risk_model = body.risk_model.to_risk_model()
        source = "request"
    elif body.allocator == "allocator_v2":
        risk_model, risk_model_missing = lake_risk_model(
            services.runtime.features.lake, symbols, body.risk_lookback_days
        )
        source = (
            f"lake: daily returns over {body.risk_lookback_days} days" if risk_model else "none"
        )
    v2 = AllocatorV2Config()  # the engine's defaults: same caps and budget as a backtest
    result: AllocationResult = allocate(
        signals,
        PortfolioConfig(allocator=body.allocator, v2=v2),
        risk_model=risk_model,
        buckets={s: bucket_of(s) for s in symbols},  # the built-in table a backtest uses
        risk_model_missing=risk_model_missing,
    )
    payload = result.to_json()
    return RebalanceOut(**payload, risk_model_source=source)
