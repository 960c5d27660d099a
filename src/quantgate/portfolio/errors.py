"""Why allocator_v2 could not allocate. Caught by the selector, which falls back to legacy."""

from __future__ import annotations

from quantgate.core.errors import QuantgateError


class AllocationError(QuantgateError):
    """The inputs admit no trustworthy optimised allocation (bad covariance, infeasible, …)."""

    operator_action = "check the risk model inputs; legacy weights are used meanwhile"
