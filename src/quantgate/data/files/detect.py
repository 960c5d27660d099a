"""Tell a file's layout from its name and its first line or schema, reading as little as possible.

Binance klines are recognised by content (twelve fields, an integer open time
first), not by name: a generic CSV may well be called BTCUSDT-1h-2024-01.csv.

Anything not recognised as a text export or a Binance/freqtrade file is taken
as a generic OHLCV table, so a file that is almost right gets the precise
"missing column 'volume'" error from the OHLCV reader rather than a vague
"unknown format".
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from quantgate.data.files.formats import FileFormat
from quantgate.data.files.tables import parse_file_name, peek_columns, peek_first_line

_FREQTRADE_NAME = re.compile(
    r"^[A-Za-z0-9]+_[A-Za-z0-9]+-\d+[a-zA-Z]+\.(?:json|json\.gz|feather|parquet)$"
)
BINANCE_WIDTH = 12
REDDIT_COLUMNS = frozenset({"id", "kind", "timestamp", "subreddit", "parent_id", "link_id"})
CRYPTONEWS_COLUMNS = frozenset({"timestamp", "title", "text", "tickers", "news_url"})


def detect_format(path: Path) -> FileFormat:
    if _FREQTRADE_NAME.match(path.name):
        return FileFormat.FREQTRADE
    name = parse_file_name(path.name)
    if name is not None and name.kind in ("csv", "tsv"):
        separator = "\t" if name.kind == "tsv" else ","
        fields = next(csv.reader([peek_first_line(path)], delimiter=separator), [])
        if looks_like_binance(fields):
            return FileFormat.BINANCE
        columns = {f.strip().lower() for f in fields}
    else:
        columns = set(peek_columns(path))
    if columns >= REDDIT_COLUMNS:
        return FileFormat.REDDIT
    if columns >= CRYPTONEWS_COLUMNS:
        return FileFormat.CRYPTONEWS
    if "id" in columns and ({"published_at", "symbols"} & columns):
        return FileFormat.TEXT
    return FileFormat.OHLCV


def looks_like_binance(fields: list[str]) -> bool:
    """A kline line (an integer open time first: no other layout lacks a header) or the
    12-column header some releases add. The reader then insists on exactly 12 columns."""
    first = fields[0].strip().lstrip("\ufeff") if fields else ""
    return first.isdigit() or (len(fields) == BINANCE_WIDTH and first.lower() == "open_time")
