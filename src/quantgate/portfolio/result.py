"""What an allocation returns: target weights plus an account of how they were reached.

Both models are pydantic so the result is JSON as is (`model_dump(mode="json")`)
and can be the response model of `POST /api/v2/portfolio/rebalance`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class BoundConstraint(BaseModel):
    """One constraint that changed the allocation.

    `before` is the constrained quantity in the allocation the allocator would
    have chosen without caps (for `correlation_dedup`: the dropped signal's
    target exposure), `after` its final value, `limit` the cap it met.
    Names: `symbol_cap` (|weight|), `bucket_cap` (bucket gross), `gross_cap`
    (portfolio gross), `risk_budget` (portfolio ex-ante vol), `correlation_dedup`.
    Where bets offset each other on a symbol (a lone signal against a pair's leg),
    allocator_v2's caps hold the bets' gross before netting; `after` is that gross
    and `detail` gives the smaller gross the netted weights hold.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    symbol: str | None = None
    bucket: str | None = None
    before: float
    after: float
    limit: float
    detail: str = ""


class AllocationResult(BaseModel):
    """Target weights (signed fractions of equity); a symbol not listed has target 0."""

    model_config = ConfigDict(frozen=True)

    allocator_used: str
    requested: str
    target_weights: dict[str, float]
    bound_constraints: list[BoundConstraint]
    fallback_reason: str | None = None
    diagnostics: dict[str, Any]

    @property
    def fell_back(self) -> bool:
        return self.fallback_reason is not None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
