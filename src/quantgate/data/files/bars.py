"""OHLCV files → bars in the lake's schema (data.schema.BAR_SCHEMA), validated whole.

A file is read completely and every row checked before a single bar is handed
out: a malformed file yields a DataError (file, row, field), never a partial
frame. OHLC consistency (high ≥ low, …) is deliberately not checked here: a
real exchange bar can break it, and the data-quality gate reports it later.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from quantgate.core.errors import DataError
from quantgate.data.files.checks import (
    fail_first,
    parse_numbers,
    require_columns,
    require_finite,
    require_unique,
)
from quantgate.data.files.detect import BINANCE_WIDTH, detect_format
from quantgate.data.files.formats import FileFormat
from quantgate.data.files.naming import name_parts
from quantgate.data.files.tables import ROW, peek_first_line, read_table
from quantgate.data.files.timeparse import (
    Timeframe,
    check_grid,
    infer_timeframe,
    parse_timeframe,
    parse_utc_times,
)
from quantgate.data.schema import BAR_SCHEMA, DEFAULT_BAR_PUBLICATION_LATENCY, UTC_TIME

# Accepted names of the bar open-time column, in the order they are looked for.
TIME_COLUMNS = ("timestamp", "date", "ts", "open_time", "time")
PRICE_COLUMNS = ("open", "high", "low", "close")
# data.binance.vision kline columns; header names differ between releases, positions do not.
BINANCE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class BarFile:
    """One file's bars, sorted by time, with each bar's row number in the file kept in `ROW`."""

    path: Path
    format: FileFormat
    symbol: str
    timeframe: Timeframe
    table: pl.DataFrame

    @property
    def bars(self) -> pl.DataFrame:
        """The bars exactly in BAR_SCHEMA."""
        return self.table.drop(ROW)


def check_symbol(symbol: str, *, origin: str | None = None) -> str:
    cleaned = symbol.strip().upper()
    if not _SYMBOL.match(cleaned):
        raise DataError(
            f"symbol {symbol!r} is not a plain ticker (letters, digits, '.', '-', '_')",
            source=origin,
            field="symbol",
            fix="pass symbol= with a ticker such as BTCUSDT",
        )
    return cleaned


def bar_file_symbol(path: Path, symbol: str | None) -> str:
    """The symbol a file's bars belong to: the one given, else the one its name says."""
    if symbol is not None:
        return check_symbol(symbol, origin=str(path))
    named = name_parts(path).symbol
    if named is None:
        raise DataError(
            "cannot tell the symbol from the file name",
            source=str(path),
            field="symbol",
            fix="name the file like BTCUSDT_1h.csv or pass symbol=",
        )
    return named


def read_bar_file(
    path: Path,
    *,
    source: str,
    fetched_at: datetime,
    format: FileFormat | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    latency: timedelta = DEFAULT_BAR_PUBLICATION_LATENCY,
) -> BarFile:
    """Read and validate one OHLCV file (generic, Binance kline or freqtrade)."""
    origin = str(path)
    layout = format or detect_format(path)
    if not layout.is_market:
        raise DataError(
            f"the file is a {layout.value} text file, not bars",
            source=origin,
            fix="import it as a text source",
        )
    chosen_symbol = bar_file_symbol(path, symbol)
    label = _timeframe_label(path, timeframe)
    table = _binance_table(path) if layout is FileFormat.BINANCE else read_table(path)
    frame, resolved = _to_bars(
        table,
        origin=origin,
        symbol=chosen_symbol,
        timeframe=label,
        source=source,
        latency=latency,
        fetched_at=fetched_at,
    )
    return BarFile(path, layout, chosen_symbol, resolved, frame)


def _timeframe_label(path: Path, given: str | None) -> str | None:
    named = name_parts(path).timeframe
    if (
        given is not None
        and named is not None
        and parse_timeframe(given, origin=str(path)).period
        != parse_timeframe(named, origin=str(path)).period
    ):
        raise DataError(
            f"the file name says timeframe {named} but {given} was asked for",
            source=str(path),
            field="timeframe",
            fix="pass the timeframe the file holds, or rename the file",
        )
    return given or named


def _binance_table(path: Path) -> pl.DataFrame:
    origin = str(path)
    first = next(csv.reader([peek_first_line(path)]), [""])
    # Most kline files have no header; some releases add one. Numbers decide.
    has_header = not first[0].strip().lstrip("\ufeff").isdigit()
    table = read_table(path, header=has_header)
    columns = [c for c in table.columns if c != ROW]
    if len(columns) != BINANCE_WIDTH:
        raise DataError(
            f"a Binance kline file has {BINANCE_WIDTH} columns; this one has {len(columns)}",
            source=origin,
            row=1,
            # The first column a short file lacks; a wide one has no missing field to name.
            field=BINANCE_COLUMNS[len(columns)] if len(columns) < BINANCE_WIDTH else None,
            fix="check that this is a kline (candlestick) file from data.binance.vision",
        )
    return table.rename(dict(zip(columns, BINANCE_COLUMNS, strict=True)))


def _time_column(table: pl.DataFrame, origin: str) -> str:
    found = [c for c in TIME_COLUMNS if c in table.columns]
    if len(found) > 1:
        raise DataError(
            f"the file has several time columns {found}; which one is the bar open time is "
            "not guessed",
            source=origin,
            row=1,
            field=found[1],
            fix="keep one time column",
        )
    if not found:
        present = [c for c in table.columns if c != ROW]
        raise DataError(
            f"an OHLCV file needs a time column, one of {list(TIME_COLUMNS)}, but the file "
            f"has {present}",
            source=origin,
            row=1,
            field=TIME_COLUMNS[0],
            fix="name the bar open-time column timestamp (UTC ISO-8601 or epoch)",
        )
    return found[0]


def _to_bars(
    table: pl.DataFrame,
    *,
    origin: str,
    symbol: str,
    timeframe: str | None,
    source: str,
    latency: timedelta,
    fetched_at: datetime,
) -> tuple[pl.DataFrame, Timeframe]:
    if table.columns == [ROW]:  # an empty JSON array: no rows, so no columns to check
        if timeframe is None:
            raise DataError(
                "cannot tell the timeframe of an empty file",
                source=origin,
                field="timeframe",
                fix="name it in the file name (BTC_USDT-1h.json) or pass timeframe",
            )
        return _empty(), parse_timeframe(timeframe, origin=origin)
    time_column = _time_column(table, origin)
    require_columns(
        table, [time_column, *PRICE_COLUMNS, "volume"], origin=origin, what="an OHLCV file"
    )
    rows = table[ROW]
    ts = parse_utc_times(table[time_column], rows, origin=origin, field=time_column)
    values: dict[str, pl.Series] = {}
    for column in (*PRICE_COLUMNS, "volume"):
        numbers = parse_numbers(table[column], rows, origin=origin, field=column)
        require_finite(numbers, rows, origin=origin, field=column)
        if column == "volume":
            bad, problem = numbers < 0, "the volume is negative"
        else:
            bad, problem = numbers <= 0, "the price is not positive"
        fail_first(
            bad,
            rows,
            origin=origin,
            field=column,
            problem=problem,
            fix="correct the value or remove the row",
            values=numbers,
        )
        values[column] = numbers
    require_unique(
        pl.DataFrame({"symbol": [symbol] * len(ts), "ts": ts}),
        rows,
        origin=origin,
        field=time_column,
        what="bar",
    )
    resolved = (
        parse_timeframe(timeframe, origin=origin)
        if timeframe
        else infer_timeframe(ts, origin=origin)
    )
    check_grid(ts, rows, resolved, origin=origin, field=time_column)
    frame = (
        pl.DataFrame({ROW: rows, "ts": ts, **values})
        .with_columns(
            pl.lit(source, dtype=pl.String()).alias("source"),
            pl.lit(symbol, dtype=pl.String()).alias("symbol"),
            (pl.col("ts") + (resolved.period + latency)).alias("available_at"),
            pl.lit(fetched_at, dtype=UTC_TIME).alias("fetched_at"),
        )
        .select([*BAR_SCHEMA, ROW])
        .sort("ts")
    )
    return frame, resolved


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={**BAR_SCHEMA, ROW: pl.Int64()})
