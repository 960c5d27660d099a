"""Portfolio: turn the active signals into target weights (legacy or allocator_v2), no I/O."""

from quantgate.portfolio.allocator_v2 import AllocatorV2, AllocatorV2Config
from quantgate.portfolio.book import SignalBook
from quantgate.portfolio.errors import AllocationError
from quantgate.portfolio.legacy import LegacyAllocator
from quantgate.portfolio.result import AllocationResult, BoundConstraint
from quantgate.portfolio.risk_model import RiskModel
from quantgate.portfolio.selection import ALLOCATOR_NAMES, PortfolioConfig, allocate

__all__ = [
    "ALLOCATOR_NAMES",
    "AllocationError",
    "AllocationResult",
    "AllocatorV2",
    "AllocatorV2Config",
    "BoundConstraint",
    "LegacyAllocator",
    "PortfolioConfig",
    "RiskModel",
    "SignalBook",
    "allocate",
]
