"""Checking the candles of one page: keep the good ones, report every rejected one.

A row is a ccxt unified candle `[timestamp_ms, open, high, low, close, volume]`.
Nothing is repaired: a malformed row is dropped and reported with its raw form
and the reason, so the completeness audit sees a gap and an operator can see why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

OHLCV_ARITY = 6
_PRICE_FIELDS = ("open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class RejectedRow:
    symbol: str
    reason: str
    raw: Any  # the row as the exchange sent it, when known; else as ccxt returned it
    parsed: list[Any] | None  # the row as ccxt returned it


@dataclass(frozen=True, slots=True)
class Candle:
    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True)
class SortedPage:
    """One page split by what happens to each row."""

    accepted: list[Candle] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    open_bars: int = 0  # not closed yet at fetch time: withheld, fetched again later
    beyond_end: int = 0  # valid but at or after the requested end
    # Latest usable timestamp on the page, even of a rejected row: paging goes on
    # past a bad row instead of asking for it again forever.
    max_ts_ms: int | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def timestamp_of(row: Any) -> int | None:
    """The row's timestamp if it is a usable one (a positive integer), else None."""
    if not isinstance(row, list | tuple) or not row:
        return None
    value = row[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    return int(value) if value > 0 else None


def row_problem(row: Any, *, since_ms: int, timeframe_ms: int, now_ms: int) -> str | None:
    """Why `row` is malformed, or None when it is a well-formed candle.

    Open (not yet closed) bars are well-formed; the caller withholds them.
    """
    if not isinstance(row, list | tuple) or len(row) != OHLCV_ARITY:
        size = len(row) if isinstance(row, list | tuple) else type(row).__name__
        return f"wrong arity: {size} fields, expected {OHLCV_ARITY}"
    ts = timestamp_of(row)
    if ts is None:
        return f"timestamp missing or invalid ({row[0]!r})"
    if ts % timeframe_ms:
        return f"timestamp {ts} is off the {timeframe_ms // 1000}s grid"
    if ts < since_ms:
        return f"timestamp {ts} is before the requested start {since_ms}"
    # One period of slack for clock skew: the exchange may open a bar a moment
    # before our clock gets there; anything later cannot be a real bar.
    if ts > now_ms + timeframe_ms:
        return f"timestamp {ts} is in the future (now {now_ms})"
    values = dict(zip((*_PRICE_FIELDS, "volume"), row[1:], strict=True))
    for name, value in values.items():
        if value is None:
            return f"{name} is missing"
        if not _is_number(value):
            return f"{name} is not a number ({value!r})"
        if not math.isfinite(value):
            return f"{name} is not finite ({value!r})"
    for name in _PRICE_FIELDS:
        if values[name] <= 0:
            return f"{name} is not positive ({values[name]!r})"
    if values["volume"] < 0:
        return f"volume is negative ({values['volume']!r})"
    if values["high"] < max(values["open"], values["close"], values["low"]):
        return "high is below open, close or low"
    if values["low"] > min(values["open"], values["close"]):
        return "low is above open or close"
    return None


def sort_page(
    symbol: str,
    rows: list[tuple[Any, list[Any]]],
    *,
    since_ms: int,
    end_ms: int,
    timeframe_ms: int,
    now_ms: int,
    seen_ts: set[int],
) -> SortedPage:
    """Split `(raw, parsed)` pairs of one page; `seen_ts` carries timestamps across pages."""
    page = SortedPage()
    for raw, parsed in rows:
        ts = timestamp_of(parsed)
        # A garbage far-future timestamp must not make paging leap over real data.
        if ts is not None and since_ms <= ts <= now_ms + timeframe_ms:
            page.max_ts_ms = ts if page.max_ts_ms is None else max(page.max_ts_ms, ts)
        problem = row_problem(parsed, since_ms=since_ms, timeframe_ms=timeframe_ms, now_ms=now_ms)
        if problem is None and ts in seen_ts:
            problem = f"timestamp {ts} repeats"
        if problem is not None:
            page.rejected.append(RejectedRow(symbol, problem, raw, parsed))
            continue
        assert ts is not None  # row_problem accepted it
        if ts >= end_ms:
            page.beyond_end += 1
            continue
        if ts + timeframe_ms > now_ms:
            page.open_bars += 1
            continue
        seen_ts.add(ts)
        page.accepted.append(Candle(ts, *(float(value) for value in parsed[1:])))
    return page
