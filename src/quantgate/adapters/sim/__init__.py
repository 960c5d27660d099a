"""The built-in synthetic market: bars, 1-minute paths, order books and social text.

Deterministic by seed and prefix stable (a value never depends on the requested
range or the configured end), with planted, documented predictability and
planted gaps; see market.py, social.py, books.py and gaps.py.
"""

from quantgate.adapters.sim.books import book_imbalance
from quantgate.adapters.sim.config import SyntheticMarketConfig
from quantgate.adapters.sim.gaps import BarGap, SocialGap
from quantgate.adapters.sim.source import SyntheticMarketSource, SyntheticTextSource
from quantgate.adapters.sim.world import SyntheticWorld, world_for

__all__ = [
    "BarGap",
    "SocialGap",
    "SyntheticMarketConfig",
    "SyntheticMarketSource",
    "SyntheticTextSource",
    "SyntheticWorld",
    "book_imbalance",
    "world_for",
]
