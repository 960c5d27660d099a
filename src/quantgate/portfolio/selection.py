"""Choose the allocator by name; allocator_v2 falls back to legacy, loudly, and its
symbol, bucket and gross caps still hold on the fallback's weights.

A failed optimisation must never leave the engine without targets, nor swap
allocators behind the operator's back: the result names the allocator that
was asked for, the one actually used, and the reason for any difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Bucket
from quantgate.core.signals import Signal
from quantgate.portfolio.allocator_v2 import AllocatorV2, AllocatorV2Config
from quantgate.portfolio.errors import AllocationError
from quantgate.portfolio.fallback_caps import capped
from quantgate.portfolio.legacy import LegacyAllocator
from quantgate.portfolio.result import AllocationResult
from quantgate.portfolio.risk_model import RiskModel

AllocatorName = Literal["legacy", "allocator_v2"]
ALLOCATOR_NAMES: tuple[AllocatorName, ...] = ("legacy", "allocator_v2")


class PortfolioConfig(ComponentConfig):
    allocator: AllocatorName = "allocator_v2"
    v2: AllocatorV2Config = Field(default_factory=AllocatorV2Config)


def allocate(
    signals: Sequence[Signal],
    config: PortfolioConfig | None = None,
    *,
    risk_model: RiskModel | None = None,
    buckets: Mapping[str, Bucket] | None = None,
    risk_model_missing: str | None = None,
) -> AllocationResult:
    """Target weights for `signals` with the configured allocator. Without a risk model,
    `risk_model_missing` says why (it becomes allocator_v2's fallback reason)."""
    config = config or PortfolioConfig()
    legacy = LegacyAllocator()
    if config.allocator == "legacy":
        return legacy.allocate(signals)
    try:
        return AllocatorV2(config.v2).allocate(signals, risk_model, buckets, risk_model_missing)
    except (AllocationError, np.linalg.LinAlgError, FloatingPointError, ValueError) as error:
        # ValueError and LinAlgError come from NumPy/SciPy on numerically hopeless
        # input; they are reported in the result, which is what makes this safe.
        reason = (
            error.message
            if isinstance(error, AllocationError)
            else (f"{type(error).__name__}: {error}")
        )
        fallback = legacy.allocate(signals, requested="allocator_v2", fallback_reason=reason)
        return capped(fallback, config.v2, buckets or {})
