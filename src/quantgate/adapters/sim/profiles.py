"""Per-symbol facts of the synthetic market: listing date, bucket, price level and volatility.

The known symbols get hand-picked, roughly historical values so the data looks
familiar; any other symbol gets values derived from its name, so adding a symbol
to the universe is deterministic and never changes the other symbols' data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from quantgate.core.enums import Bucket


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    symbol: str
    bucket: Bucket
    listing: datetime  # first bar's open time, before clipping to the configured start
    start_price: float  # open of the first listed bar
    hourly_vol: float  # unconditional standard deviation of hourly log returns
    hourly_notional: float  # typical traded value per hour, in quote currency
    aliases: tuple[str, ...]  # how people write about it: ticker, cashtag, name


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


KNOWN_PROFILES: dict[str, SymbolProfile] = {
    p.symbol: p
    for p in (
        # BTC and ETH traded long before 2018; their listing is clipped to the start.
        SymbolProfile(
            "BTCUSDT",
            Bucket.MAJORS,
            _utc(2017, 8, 17),
            13_500.0,
            0.0075,
            4.0e7,
            ("BTC", "$BTC", "Bitcoin", "bitcoin", "btc"),
        ),
        SymbolProfile(
            "ETHUSDT",
            Bucket.MAJORS,
            _utc(2017, 8, 17),
            750.0,
            0.0095,
            2.0e7,
            ("ETH", "$ETH", "Ethereum", "ether", "eth"),
        ),
        SymbolProfile(
            "BNBUSDT",
            Bucket.L1,
            _utc(2018, 1, 1),
            8.5,
            0.0100,
            5.0e6,
            ("BNB", "$BNB", "Binance Coin", "bnb"),
        ),
        SymbolProfile(
            "XRPUSDT",
            Bucket.PAYMENTS,
            _utc(2018, 5, 4),
            0.85,
            0.0110,
            6.0e6,
            ("XRP", "$XRP", "Ripple", "xrp"),
        ),
        SymbolProfile(
            "ADAUSDT",
            Bucket.L1,
            _utc(2018, 4, 17),
            0.25,
            0.0120,
            4.0e6,
            ("ADA", "$ADA", "Cardano", "ada"),
        ),
        SymbolProfile(
            "DOGEUSDT",
            Bucket.MEME,
            _utc(2019, 7, 5),
            0.0035,
            0.0140,
            3.0e6,
            ("DOGE", "$DOGE", "Dogecoin", "doge"),
        ),
        SymbolProfile(
            "SOLUSDT",
            Bucket.L1,
            _utc(2020, 8, 11),
            3.0,
            0.0140,
            5.0e6,
            ("SOL", "$SOL", "Solana", "sol"),
        ),
        SymbolProfile(
            "AVAXUSDT",
            Bucket.L1,
            _utc(2020, 9, 22),
            4.5,
            0.0150,
            3.0e6,
            ("AVAX", "$AVAX", "Avalanche", "avax"),
        ),
    )
}

_QUOTE_SUFFIXES = ("USDT", "USDC", "BUSD", "USD")


def base_asset(symbol: str) -> str:
    """`SOLUSDT` -> `SOL`; a symbol without a known quote suffix is its own base."""
    for suffix in _QUOTE_SUFFIXES:
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            return symbol[: -len(suffix)]
    return symbol


def _name_fractions(symbol: str) -> tuple[float, float, float]:
    digest = hashlib.sha256(f"quantgate-sim-profile:{symbol}".encode()).digest()
    first, second, third = (int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8))
    return first, second, third


def profile_for(symbol: str, default_listing: datetime) -> SymbolProfile:
    """The profile of `symbol`; unknown symbols list at `default_listing` in bucket OTHER."""
    known = KNOWN_PROFILES.get(symbol)
    if known is not None:
        return known
    price_u, vol_u, notional_u = _name_fractions(symbol)
    base = base_asset(symbol)
    return SymbolProfile(
        symbol=symbol,
        bucket=Bucket.OTHER,
        listing=default_listing,
        # Spread unknown coins over four decades of price, like a real alt universe.
        start_price=float(10 ** (-2.0 + 4.0 * price_u)),
        hourly_vol=0.009 + 0.007 * vol_u,
        hourly_notional=float(10 ** (6.0 + notional_u)),
        aliases=(base, f"${base}", base.lower()),
    )
