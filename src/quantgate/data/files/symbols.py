"""Which market symbols a text is about: communities (subreddits) and tickers → symbols.

Keys match case-insensitively (`bitcoin`, `Bitcoin` and `BITCOIN` are one
community). Every target symbol also maps to itself, so a file may name symbols
directly. A text whose names all miss the mapping is counted as unmapped and
reported with the names that missed, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from quantgate.core.errors import ConfigurationError

# The defaults cover the symbols the shared real data has bars for (Binance spot
# USDT pairs). A community is mapped only when it is clearly about one coin:
# r/btc, for instance, is largely about Bitcoin Cash, so it is left out.
_TICKERS = ("BTC", "ETH", "SOL", "XRP", "ADA", "AVAX", "BCH", "DOGE", "DOT", "LINK", "LTC",
            "NEAR", "XTZ")  # fmt: skip
_COMMUNITIES = {
    "Bitcoin": "BTCUSDT",
    "BitcoinMarkets": "BTCUSDT",
    "ethereum": "ETHUSDT",
    "ethtrader": "ETHUSDT",
    "ethfinance": "ETHUSDT",
    "solana": "SOLUSDT",
    "Ripple": "XRPUSDT",
    "cardano": "ADAUSDT",
    "Avax": "AVAXUSDT",
    "Bitcoincash": "BCHUSDT",
    "dogecoin": "DOGEUSDT",
    "Polkadot": "DOTUSDT",
    "Chainlink": "LINKUSDT",
    "litecoin": "LTCUSDT",
    "nearprotocol": "NEARUSDT",
    "tezos": "XTZUSDT",
}
DEFAULT_SYMBOL_MAP: dict[str, tuple[str, ...]] = {
    **{ticker: (f"{ticker}USDT",) for ticker in _TICKERS},
    **{community: (symbol,) for community, symbol in _COMMUNITIES.items()},
}


@dataclass(frozen=True, slots=True)
class Resolution:
    """Symbols found per text row, and what could not be mapped."""

    symbols: pl.DataFrame  # (row, symbol), one row per text and symbol
    unmapped_rows: pl.Series  # text rows that map to no symbol
    unmapped_names: dict[str, int]  # name → how many texts carried it unmapped


class SymbolMap:
    def __init__(self, mapping: Mapping[str, Sequence[str] | str] | None = None) -> None:
        self.is_default = mapping is None
        given = DEFAULT_SYMBOL_MAP if mapping is None else mapping
        self._mapping = {
            name: [targets] if isinstance(targets, str) else list(targets)
            for name, targets in given.items()
        }
        table: dict[str, tuple[str, ...]] = {}
        for name, targets in self._mapping.items():
            key = name.strip().lower()
            symbols = tuple(dict.fromkeys(t.strip().upper() for t in targets if t.strip()))
            if not key or not symbols:
                raise ConfigurationError(
                    f"symbol map entry {name!r} → {targets!r} is empty",
                    field="symbol_map",
                    fix="map each community or ticker to at least one symbol",
                )
            if table.get(key, symbols) != symbols:
                raise ConfigurationError(
                    f"symbol map names {name!r} twice (case-insensitively) with different "
                    f"symbols {table[key]} and {symbols}",
                    field="symbol_map",
                    fix="keep one entry per name",
                )
            table[key] = symbols
        for symbols in list(table.values()):
            for symbol in symbols:
                table.setdefault(symbol.lower(), (symbol,))  # a symbol names itself
        self._table = table

    def to_json(self) -> dict[str, list[str]]:
        return {name: list(targets) for name, targets in self._mapping.items()}

    def symbols(self) -> list[str]:
        return sorted({s for targets in self._table.values() for s in targets})

    def resolve(self, rows: pl.Series, names: pl.Series) -> Resolution:
        """Map each text's names (a list column, aligned with `rows`) to symbols."""
        lookup = pl.DataFrame(
            [(key, symbol) for key, targets in self._table.items() for symbol in targets],
            schema={"key": pl.String(), "symbol": pl.String()},
            orient="row",
        )
        exploded = (
            pl.DataFrame({"row": rows, "name": names})
            .explode("name")
            .with_columns(pl.col("name").str.strip_chars())
            .filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
            .with_columns(pl.col("name").str.to_lowercase().alias("key"))
            .join(lookup, on="key", how="left")
        )
        found = (
            exploded.filter(pl.col("symbol").is_not_null())
            .select("row", "symbol")
            .unique(maintain_order=True)
        )
        unmapped_rows = rows.filter(~rows.is_in(found["row"]))
        misses = (
            exploded.filter(pl.col("symbol").is_null())
            .group_by("name")
            .agg(pl.col("row").n_unique().alias("texts"))
            .sort(["texts", "name"], descending=[True, False])
        )
        return Resolution(
            found,
            unmapped_rows,
            dict(zip(misses["name"].to_list(), misses["texts"].to_list(), strict=True)),
        )
