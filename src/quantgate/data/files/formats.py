"""The file layouts the file sources understand, and which side (bars or texts) each feeds."""

from __future__ import annotations

from enum import StrEnum

from quantgate.core.errors import ConfigurationError


class FileFormat(StrEnum):
    """A layout of rows inside a file; the container (csv, gz, zip, json, parquet…) is separate."""

    OHLCV = "ohlcv"  # any table with a time column and open, high, low, close, volume
    BINANCE = "binance"  # data.binance.vision kline CSV: 12 columns, usually no header
    FREQTRADE = "freqtrade"  # <BASE>_<QUOTE>-<tf>.json|.json.gz|.feather|.parquet
    TEXT = "text"  # generic posts/comments: id, published_at, symbols, title, body, kind…
    REDDIT = "reddit"  # reddit export: id, kind, timestamp, subreddit, parent_id, link_id…
    CRYPTONEWS = "cryptonews"  # news export: timestamp, title, text, tickers, news_url…

    @property
    def is_market(self) -> bool:
        return self in MARKET_FORMATS


MARKET_FORMATS = frozenset({FileFormat.OHLCV, FileFormat.BINANCE, FileFormat.FREQTRADE})
TEXT_FORMATS = frozenset({FileFormat.TEXT, FileFormat.REDDIT, FileFormat.CRYPTONEWS})


def parse_format(value: str | FileFormat | None) -> FileFormat | None:
    """The format an operator named, or None for auto-detection; an unknown name is refused."""
    if value is None or isinstance(value, FileFormat):
        return value
    try:
        return FileFormat(value.strip().lower())
    except ValueError:
        raise ConfigurationError(
            f"unknown file format {value!r}",
            field="format",
            fix=f"use one of {[f.value for f in FileFormat]} or leave it out to auto-detect",
        ) from None
