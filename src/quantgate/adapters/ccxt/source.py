"""Bars from a crypto exchange through ccxt, as a MarketSource.

Paging walks forward with `since` = last returned bar + one period, because
that is the one pagination scheme every ccxt exchange supports. Only bars that
had closed when they were fetched are returned: an open bar's values still
change, and storing one would put a number in the lake that the exchange later
contradicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import structlog

from quantgate.adapters.ccxt.config import CcxtBackfillConfig
from quantgate.adapters.ccxt.exchange import RawRowRecorder, RetryPolicy, build_exchange
from quantgate.adapters.ccxt.rows import Candle, RejectedRow, sort_page, timestamp_of
from quantgate.core.clock import Clock, WallClock, ensure_utc
from quantgate.core.errors import ConfigurationError
from quantgate.data.schema import BAR_TIMEFRAMES, DATASETS, bars_dataset_name, conform
from quantgate.data.sources.base import MarketSource, SourceCoverage

log = structlog.get_logger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    # Integer arithmetic: float timestamps can land a millisecond off the grid.
    return (ensure_utc(moment) - _EPOCH) // _MS


def from_ms(milliseconds: int) -> datetime:
    return _EPOCH + milliseconds * _MS


def floor_ms(value: int, step: int) -> int:
    return value - value % step


def ceil_ms(value: int, step: int) -> int:
    return -(-value // step) * step


@dataclass(slots=True)
class FetchStats:
    """What one paginated fetch did; the rejected rows are the evidence for dropped data."""

    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    cursor: datetime  # where the next page would start
    requests: int = 0  # every attempt, retries included
    retries: int = 0
    pages: int = 0
    rows_received: int = 0
    bars: int = 0
    open_bars_withheld: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    # "end": reached `end`; "caught_up": reached the newest closed bar;
    # "empty_page": the exchange has nothing from the cursor on;
    # "no_progress": a page did not move the cursor (see the log).
    stop_reason: str = ""


class CcxtMarketSource(MarketSource):
    def __init__(
        self,
        config: CcxtBackfillConfig,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        # Spot keeps the plain name; another market type gets its own series in the lake
        # rather than mixing, say, perpetual-swap candles into the spot ones.
        suffix = "" if config.market_type == "spot" else f":{config.market_type}"
        self.name = f"ccxt:{config.exchange}{suffix}"
        self._clock = clock or WallClock()
        self._exchange = build_exchange(config)
        self._retry = RetryPolicy(config) if sleep is None else RetryPolicy(config, sleep=sleep)
        self._recorder = RawRowRecorder(self._exchange)
        self._markets_by_symbol: dict[str, dict[str, Any]] | None = None
        self._listing: dict[str, datetime | None] = {}
        self.last_fetch_stats: FetchStats | None = None

    def now(self) -> datetime:
        """The source's clock: what decides which bars have closed."""
        return self._clock.now()

    def __repr__(self) -> str:
        return f"CcxtMarketSource({self.name!r})"

    # --- identity --------------------------------------------------------------------

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "kind": "ccxt",
            "name": self.name,
            "exchange": self.config.exchange,
            "config": self.config.model_dump(mode="json"),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> CcxtMarketSource:
        if spec.get("kind") != "ccxt":
            raise ConfigurationError(
                f"spec kind {spec.get('kind')!r} is not 'ccxt'", field="spec.kind"
            )
        config = CcxtBackfillConfig.parse(dict(spec.get("config") or {}), where="spec.config")
        assert isinstance(config, CcxtBackfillConfig)
        if spec.get("exchange", config.exchange) != config.exchange:
            raise ConfigurationError(
                f"spec exchange {spec['exchange']!r} differs from its config's {config.exchange!r}",
                field="spec.exchange",
                fix="make them agree",
            )
        source = cls(config)
        if spec.get("name", source.name) != source.name:
            raise ConfigurationError(
                f"spec name {spec['name']!r} does not match {source.name!r}", field="spec.name"
            )
        return source

    def close(self) -> None:
        session = getattr(self._exchange, "session", None)
        if session is not None:
            session.close()

    def __enter__(self) -> CcxtMarketSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- markets ---------------------------------------------------------------------

    def _markets(self) -> dict[str, dict[str, Any]]:
        if self._markets_by_symbol is None:
            markets = self._retry.call(self._exchange, "load_markets", self._exchange.load_markets)
            self._markets_by_symbol = self._index_markets(markets)
        return self._markets_by_symbol

    def _index_markets(self, markets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Our symbols ('BTCUSDT') to ccxt markets, for the configured market type only."""
        wanted = [m for m in markets.values() if m.get("type") == self.config.market_type]
        # Active markets win a name clash with delisted ones.
        wanted.sort(key=lambda m: bool(m.get("active", True)))
        index: dict[str, dict[str, Any]] = {}
        for market in wanted:
            index[our_symbol(market)] = market
        for market in wanted:
            # The exchange's own id ('BTCUSDT' on Binance) also resolves, exact names first.
            index.setdefault(str(market["id"]).upper(), market)
        return index

    def market_for(self, symbol: str) -> str:
        """The ccxt unified symbol ('BTC/USDT') of our `symbol` ('BTCUSDT')."""
        market = self._markets().get(symbol.upper())
        if market is None:
            raise ConfigurationError(
                f"{symbol!r} is not a {self.config.market_type} market on {self.config.exchange}",
                field="symbols",
                fix="use a symbol the exchange lists, written like BTCUSDT",
            )
        return str(market["symbol"])

    def symbols(self) -> list[str]:
        if self.config.symbols:
            return list(self.config.symbols)
        return sorted(
            {our_symbol(m) for m in self._markets().values() if m.get("active", True) is not False}
        )

    def coverage(self, symbol: str) -> SourceCoverage:
        """From the listing time when the exchange reveals it, else from `config.start`.

        An unreachable exchange raises TemporaryError rather than falling back,
        so the audit never expects history from a guessed start.
        """
        listing = self.listing_time(symbol) if self.config.probe_listing else None
        return SourceCoverage(symbol=symbol, start=listing or self.config.start, end=None)

    def listing_time(self, symbol: str) -> datetime | None:
        """Open time of the symbol's first candle, when the exchange answers since=0 with it."""
        if symbol not in self._listing:
            timeframe = self.config.listing_probe_timeframe
            if timeframe not in (self._exchange.timeframes or {}):
                self._listing[symbol] = None
                return None
            rows = self._retry.call(
                self._exchange,
                f"fetch_ohlcv({symbol}, {timeframe}, since=0, limit=1)",
                self._exchange.fetch_ohlcv,
                self.market_for(symbol),
                timeframe,
                0,
                1,
            )
            first = min(
                (ts for ts in map(timestamp_of, rows or []) if ts is not None), default=None
            )
            self._listing[symbol] = from_ms(first) if first is not None else None
        return self._listing[symbol]

    # --- bars ------------------------------------------------------------------------

    def _timeframe_ms(self, timeframe: str) -> int:
        if timeframe not in BAR_TIMEFRAMES:
            raise ConfigurationError(
                f"unsupported bar timeframe {timeframe!r}",
                field="timeframe",
                fix=f"use one of {sorted(BAR_TIMEFRAMES)}",
            )
        if timeframe not in (self._exchange.timeframes or {}):
            raise ConfigurationError(
                f"{self.config.exchange} has no {timeframe!r} candles",
                field="timeframe",
                fix=f"use one of {sorted(self._exchange.timeframes or {})}",
            )
        return BAR_TIMEFRAMES[timeframe] // _MS

    def fetch_bars(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> pl.DataFrame:
        frame, _ = self.fetch_bars_with_stats(symbol, start, end, timeframe)
        return frame

    def fetch_bars_with_stats(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> tuple[pl.DataFrame, FetchStats]:
        stats = self.new_stats(symbol, start, end, timeframe)
        pages = list(self.fetch_pages(symbol, start, end, timeframe, stats=stats))
        frame = pl.concat(pages, how="vertical") if pages else self._frame(symbol, [], timeframe)
        return frame.sort("ts"), stats

    def new_stats(
        self, symbol: str, start: datetime, end: datetime, timeframe: str = "1h"
    ) -> FetchStats:
        start, end = ensure_utc(start, name="start"), ensure_utc(end, name="end")
        return FetchStats(symbol, timeframe, start, end, cursor=start)

    def fetch_pages(
        self,
        symbol: str,
        start: datetime,
        end: datetime,
        timeframe: str = "1h",
        *,
        stats: FetchStats | None = None,
    ) -> Iterator[pl.DataFrame]:
        """Closed bars with `start <= ts < end`, one conformed frame per page, in time order.

        `stats` (fresh if not given; also kept as `last_fetch_stats`) is updated
        before each page is yielded, so a caller writing pages as they come can
        report progress and knows where an interrupted fetch stopped.
        """
        stats = stats or self.new_stats(symbol, start, end, timeframe)
        self.last_fetch_stats = stats
        step = self._timeframe_ms(timeframe)
        market = self.market_for(symbol)
        since = ceil_ms(to_ms(stats.start), step)
        end_ms = to_ms(stats.end)
        stats.cursor = from_ms(since)
        seen: set[int] = set()
        while True:
            # Bars with ts < floor(now) have closed; nothing later is worth asking for.
            closed_ms = floor_ms(to_ms(self._clock.now()), step)
            if since >= min(end_ms, closed_ms):
                stats.stop_reason = "caught_up" if since >= closed_ms else "end"
                return
            rows, dropped = self._fetch_page(market, timeframe, since, stats)
            fetched_at = self._clock.now()
            stats.pages += 1
            stats.rows_received += len(rows) + len(dropped)
            page = sort_page(
                symbol,
                rows,
                since_ms=since,
                end_ms=end_ms,
                timeframe_ms=step,
                now_ms=to_ms(fetched_at),
                seen_ts=seen,
            )
            rejected = [RejectedRow(symbol, reason, raw, parsed) for raw, parsed, reason in dropped]
            rejected += page.rejected
            self._report(rejected, stats)
            frame = self._frame(symbol, page.accepted, timeframe, fetched_at)
            stats.bars += frame.height
            stats.open_bars_withheld += page.open_bars
            if not rows and not dropped:
                stats.stop_reason = "empty_page"
                return
            next_since = None if page.max_ts_ms is None else floor_ms(page.max_ts_ms, step) + step
            if next_since is None or next_since <= since:
                log.warning(
                    "ccxt.no_progress",
                    source=self.name,
                    symbol=symbol,
                    since=from_ms(since).isoformat(),
                    rows=len(rows),
                    rejected=len(rejected),
                )
                stats.stop_reason = "no_progress"
                yield frame
                return
            since = next_since
            stats.cursor = from_ms(since)
            yield frame

    def _fetch_page(
        self, market: str, timeframe: str, since: int, stats: FetchStats
    ) -> tuple[list[tuple[Any, list[Any]]], list[tuple[Any, list[Any], str]]]:
        """One `fetch_ohlcv` call: its `(raw, parsed)` rows and the rows ccxt dropped and why."""

        def fetch() -> list[list[Any]]:
            # Reset on every attempt so a failed attempt's rows are not counted twice.
            self._recorder.reset()
            result = self._exchange.fetch_ohlcv(market, timeframe, since, self.config.page_limit)
            return list(result or [])

        returned = self._retry.call(
            self._exchange,
            f"fetch_ohlcv({market}, {timeframe}, since={since})",
            fetch,
            counter=stats,
        )
        raw_by_parsed = {id(parsed): raw for raw, parsed in self._recorder.pairs}
        rows = [(raw_by_parsed.get(id(row), row), row) for row in returned]
        kept = {id(row) for row in returned}
        dropped: list[tuple[Any, list[Any], str]] = []
        for raw, parsed in self._recorder.pairs:
            if id(parsed) in kept:
                continue
            ts = timestamp_of(parsed)
            if id(parsed) in self._recorder.parse_errors:
                dropped.append((raw, parsed, self._recorder.parse_errors[id(parsed)]))
            elif ts is None:
                dropped.append((raw, parsed, f"timestamp missing or invalid ({parsed[0]!r})"))
            elif ts < since:
                dropped.append((raw, parsed, f"timestamp {ts} is before the requested start"))
            # Otherwise ccxt cut it at `limit`; the next page starts before it and asks again.
        return rows, dropped

    def _report(self, rejected: list[RejectedRow], stats: FetchStats) -> None:
        for row in rejected:
            log.warning(
                "ccxt.row_rejected",
                source=self.name,
                symbol=row.symbol,
                timeframe=stats.timeframe,
                reason=row.reason,
                raw=repr(row.raw)[:300],
            )
        stats.rejected.extend(rejected)

    def _frame(
        self,
        symbol: str,
        candles: list[Candle],
        timeframe: str,
        fetched_at: datetime | None = None,
    ) -> pl.DataFrame:
        dataset = DATASETS[bars_dataset_name(timeframe)]
        fetched_at = fetched_at or self._clock.now()
        known_after = BAR_TIMEFRAMES[timeframe] + timedelta(
            seconds=self.config.publication_latency_s
        )
        frame = pl.DataFrame(
            {
                "ts_ms": [c.ts_ms for c in candles],
                "open": [c.open for c in candles],
                "high": [c.high for c in candles],
                "low": [c.low for c in candles],
                "close": [c.close for c in candles],
                "volume": [c.volume for c in candles],
            },
            schema={
                "ts_ms": pl.Int64(),
                "open": pl.Float64(),
                "high": pl.Float64(),
                "low": pl.Float64(),
                "close": pl.Float64(),
                "volume": pl.Float64(),
            },
        )
        ts = pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC")
        frame = frame.with_columns(
            pl.lit(self.name).alias("source"),
            pl.lit(symbol).alias("symbol"),
            ts.alias("ts"),
            (ts + known_after).alias("available_at"),
            pl.lit(ensure_utc(fetched_at)).alias("fetched_at"),
        )
        return conform(frame, dataset, origin=f"{self.name}:{symbol}")


def our_symbol(market: dict[str, Any]) -> str:
    """quantgate's name for a ccxt market: base and quote run together ('BTCUSDT')."""
    name = f"{market.get('base') or ''}{market.get('quote') or ''}"
    return "".join(ch for ch in name if ch.isalnum()).upper() or str(market["id"]).upper()
