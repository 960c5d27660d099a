"""allocator_v2's caps applied to the legacy weights it falls back to.

A fallback happens exactly when allocator_v2 cannot trust its inputs, which is no
reason to drop the limits the operator set: the per-symbol cap clips each weight, a
bucket over its cap is scaled down as a whole, then the portfolio to the gross cap.
All three are homogeneous, so the scalings never undo one another. The symbols of a
group (a pair's legs, as legacy reports them) move together: a leg over the cap, or
in a bucket over its cap, scales its whole group, so the hedge ratio holds. The risk
budget is not applied: it needs the volatilities that made allocator_v2 fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from quantgate.core.enums import Bucket
from quantgate.portfolio.allocator_v2 import AllocatorV2Config
from quantgate.portfolio.result import AllocationResult, BoundConstraint


def capped(
    result: AllocationResult, config: AllocatorV2Config, buckets: Mapping[str, Bucket]
) -> AllocationResult:
    """`result` (legacy's) with `config`'s symbol, bucket and gross caps applied and reported
    (each bound cap with its value in legacy's weights and in the final ones)."""
    before = dict(result.target_weights)
    weights = dict(before)
    cap = config.max_weight_per_symbol
    together = _moves_with(weights, result.diagnostics.get("groups", {}))
    clipped = [symbol for symbol, weight in before.items() if abs(weight) > cap]
    for symbol in clipped:
        if len(together[symbol]) == 1:
            weights[symbol] = cap if before[symbol] > 0 else -cap
        elif abs(weights[symbol]) > cap:  # scaled with another leg, it may be under it now
            _scale(weights, together[symbol], cap / abs(weights[symbol]))
    members: dict[Bucket, list[str]] = {}
    for symbol in weights:
        # As allocator_v2 groups them: a symbol the caller did not place is in OTHER.
        members.setdefault(buckets.get(symbol, Bucket.OTHER), []).append(symbol)
    scaled_buckets = []
    for bucket, symbols in sorted(members.items()):
        gross, limit = _gross(weights, symbols), config.bucket_cap(bucket)
        if gross > limit:
            scaled_buckets.append(bucket)
            # The bucket's symbols and their groups' other legs, in whichever bucket.
            _scale(weights, {s for symbol in symbols for s in together[symbol]}, limit / gross)
    gross = _gross(weights, weights)
    if gross > config.max_gross:
        for symbol in weights:
            weights[symbol] *= config.max_gross / gross

    report = [
        BoundConstraint(name="symbol_cap", symbol=s, before=before[s], after=weights[s], limit=cap)
        for s in clipped
    ]
    report.extend(
        BoundConstraint(
            name="bucket_cap",
            bucket=bucket.value,
            before=_gross(before, members[bucket]),
            after=_gross(weights, members[bucket]),
            limit=config.bucket_cap(bucket),
            detail=", ".join(members[bucket]),
        )
        for bucket in scaled_buckets
    )
    if gross > config.max_gross:
        report.append(
            BoundConstraint(
                name="gross_cap",
                before=_gross(before, before),
                after=_gross(weights, weights),
                limit=config.max_gross,
            )
        )
    diagnostics = {
        **result.diagnostics,
        "gross": _gross(weights, weights),
        "net": sum(weights.values()),
        "caps_applied": ["symbol_cap", "bucket_cap", "gross_cap"],
        "risk_budget_applied": False,
    }
    return result.model_copy(
        update={"target_weights": weights, "bound_constraints": report, "diagnostics": diagnostics}
    )


def _moves_with(
    weights: Mapping[str, float], groups: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Per symbol, the symbols scaled with it: itself, and the other legs of its groups."""
    together = {symbol: {symbol} for symbol in weights}
    for legs in groups.values():
        known = {symbol for symbol in legs if symbol in together}
        for symbol in known:
            together[symbol] |= known
    return together


def _scale(weights: dict[str, float], symbols: Iterable[str], factor: float) -> None:
    for symbol in symbols:
        weights[symbol] *= factor


def _gross(weights: Mapping[str, float], symbols: Iterable[str]) -> float:
    return sum(abs(weights[symbol]) for symbol in symbols)
