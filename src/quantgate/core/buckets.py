"""The built-in bucket of each base asset, shared by features, the engine and the API.

One table, so that a symbol sits in the same bucket in its features, in a backtest's
risk and allocation caps, and in the rebalance endpoint. Keyed by base asset, so
BTCUSDT, BTC/USDC and BTC-USD are all majors.
"""

from __future__ import annotations

from collections.abc import Mapping

from quantgate.core.enums import Bucket

# Base asset → bucket; anything not listed is Bucket.OTHER.
DEFAULT_BUCKETS: dict[str, Bucket] = {
    "BTC": Bucket.MAJORS,
    "ETH": Bucket.MAJORS,
    "SOL": Bucket.L1,
    "AVAX": Bucket.L1,
    "ADA": Bucket.L1,
    "BNB": Bucket.L1,
    "NEAR": Bucket.L1,
    "DOT": Bucket.L1,
    "XRP": Bucket.PAYMENTS,
    "LTC": Bucket.PAYMENTS,
    "BCH": Bucket.PAYMENTS,
    "DOGE": Bucket.MEME,
}

_QUOTE_SUFFIXES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR")


def base_asset(symbol: str) -> str:
    """`SOLUSDT`, `SOL/USDT`, `SOL-USD` → `SOL`; a symbol without a known quote is its own base."""
    text = symbol.upper()
    for separator in ("/", "-", "_", ":"):
        if separator in text:
            return text.split(separator, 1)[0]
    for suffix in _QUOTE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def bucket_of(symbol: str, buckets: Mapping[str, Bucket] = DEFAULT_BUCKETS) -> Bucket:
    """The bucket of `symbol`'s base asset in `buckets` (by default the built-in table)."""
    return buckets.get(base_asset(symbol), Bucket.OTHER)
