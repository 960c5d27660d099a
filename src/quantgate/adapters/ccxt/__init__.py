"""Crypto venues through the ccxt library: market data (bars) and the resumable backfill.

The data side pages `fetch_ohlcv` through ccxt's real exchange classes, retries
temporary failures with backoff, reports every malformed row it drops, and
hands the lake only closed bars in the lake's schema.
"""

from quantgate.adapters.ccxt.backfill import BackfillResult, ProgressCallback, backfill
from quantgate.adapters.ccxt.config import CcxtBackfillConfig
from quantgate.adapters.ccxt.rows import RejectedRow
from quantgate.adapters.ccxt.source import CcxtMarketSource, FetchStats

__all__ = [
    "BackfillResult",
    "CcxtBackfillConfig",
    "CcxtMarketSource",
    "FetchStats",
    "ProgressCallback",
    "RejectedRow",
    "backfill",
]
