"""What a file's name says: the symbol and, when present, the bar timeframe.

One rule covers every layout: split the name stem on `-`, `_`, `.` and spaces;
if a timeframe token (`1h`, `5m`, `1d`…) follows the first token, the symbol is
everything before it joined together, else the symbol is the first token.

    BTCUSDT_1h.csv.gz        → BTCUSDT, 1h   (generic / the shared real data)
    BTCUSDT-1h-2024-01.zip   → BTCUSDT, 1h   (data.binance.vision)
    BTC_USDT-1h.feather      → BTCUSDT, 1h   (freqtrade)
    prices.csv               → PRICES        (pass symbol= to name it yourself)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from quantgate.core.errors import DataError
from quantgate.data.files.tables import parse_file_name
from quantgate.data.files.timeparse import TIMEFRAME_TOKEN

_SEPARATORS = re.compile(r"[-_.\s]+")
_SYMBOL = re.compile(r"^[A-Z0-9]+$")
# freqtrade stores futures, mark, index and funding-rate candles under the same
# pair names with these suffixes; they are not spot bars and must not pass as such.
_NON_SPOT = {"futures", "mark", "index", "premiumindex", "funding"}


@dataclass(frozen=True, slots=True)
class NameParts:
    symbol: str | None
    timeframe: str | None


def stem_of(path: Path) -> str:
    """The name without data suffixes: `BTCUSDT_1h.csv.gz` → `BTCUSDT_1h`."""
    parsed = parse_file_name(path.name)
    return parsed.stem if parsed is not None else path.stem


def name_parts(path: Path) -> NameParts:
    tokens = [t for t in _SEPARATORS.split(stem_of(path)) if t]
    if not tokens:
        return NameParts(None, None)
    position = next(
        (i for i, token in enumerate(tokens) if i > 0 and TIMEFRAME_TOKEN.match(token)), None
    )
    if position is None:
        symbol, timeframe = tokens[0].upper(), None
    else:
        symbol, timeframe = "".join(tokens[:position]).upper(), tokens[position]
        marker = next((t for t in tokens[position + 1 :] if t.lower() in _NON_SPOT), None)
        if marker is not None:
            raise DataError(
                f"the file holds {marker} candles, not spot bars",
                source=str(path),
                field="symbol",
                fix="import spot candle files only",
            )
    return NameParts(symbol if _SYMBOL.match(symbol) else None, timeframe)
