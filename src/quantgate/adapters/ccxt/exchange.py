"""Building a ccxt exchange from config, and calling it with retries and error mapping.

ccxt raises its own error tree; quantgate's callers act on ours. A temporary
failure that outlives the retries becomes TemporaryError, so an outage is never
mistaken for an empty answer (which would read as a confirmed source gap). A
request the exchange refuses as wrong becomes ConfigurationError. Any other ccxt
error (an unexpected exchange answer) propagates unchanged, to be investigated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import ccxt
import structlog

from quantgate.adapters.ccxt.config import CcxtBackfillConfig
from quantgate.core.errors import ConfigurationError, TemporaryError

log = structlog.get_logger(__name__)

T = TypeVar("T")

# NetworkError covers RequestTimeout, DDoSProtection, RateLimitExceeded and
# ExchangeNotAvailable (ccxt maps HTTP 5xx and 404 there). BadResponse is an
# unparsable body, typically an error page from a proxy or load balancer.
_TEMPORARY_ERRORS: tuple[type[Exception], ...] = (ccxt.NetworkError, ccxt.BadResponse)
# The request itself is wrong: asking again cannot help, the setup must change.
_CONFIGURATION_ERRORS: tuple[type[Exception], ...] = (
    ccxt.BadRequest,  # includes BadSymbol
    ccxt.NotSupported,
    ccxt.AuthenticationError,
    ccxt.ArgumentsRequired,
)
_RATE_LIMIT_ERRORS: tuple[type[Exception], ...] = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)


def build_exchange(config: CcxtBackfillConfig) -> Any:
    """A real ccxt exchange object with rate limiting on and the configured URLs and options."""
    exchange_class = getattr(ccxt, config.exchange)
    # enableRateLimit makes ccxt space requests by its per-endpoint cost model.
    exchange = exchange_class({"enableRateLimit": True, "timeout": config.timeout_ms})
    if config.rate_limit_ms is not None:
        exchange.rateLimit = config.rate_limit_ms
    _restrict_market_types(exchange, config.market_type)
    if config.options:
        exchange.options = exchange.deep_extend(exchange.options, config.options)
    _override_urls(exchange, config)
    return exchange


def _restrict_market_types(exchange: Any, market_type: str) -> None:
    """Load only the wanted market type: fewer requests, and no symbol clashes across types."""
    exchange.options["defaultType"] = market_type
    fetch_markets = exchange.options.get("fetchMarkets")
    # Exchanges that load several market types say which in options.fetchMarkets.types.
    if isinstance(fetch_markets, dict) and isinstance(fetch_markets.get("types"), list):
        exchange.options["fetchMarkets"] = {**fetch_markets, "types": [market_type]}


def _override_urls(exchange: Any, config: CcxtBackfillConfig) -> None:
    if not config.urls:
        return
    api = exchange.urls.get("api")
    if isinstance(api, str):
        known = {"api": api}
    elif isinstance(api, dict):
        known = dict(api)
    else:
        known = {}
    unknown = sorted(set(config.urls) - set(known))
    if unknown:
        raise ConfigurationError(
            f"{config.exchange} has no API url named {unknown}",
            field="urls",
            fix=f"use keys from {sorted(known)}",
        )
    merged = {**known, **config.urls}
    exchange.urls = {**exchange.urls, "api": merged["api"] if isinstance(api, str) else merged}


class CallCounter(Protocol):
    """Where a call records the requests it sent and the retries it spent."""

    requests: int
    retries: int


class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After, up to `max_retries` retries."""

    def __init__(
        self,
        config: CcxtBackfillConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._sleep = sleep
        # Jitter only spreads retries out; it never touches data, so it needs no fixed seed.
        self._rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        config = self._config
        ceiling = min(config.backoff_cap_s, config.backoff_base_s * 2.0**attempt)
        delay = ceiling * (1.0 - config.jitter * self._rng.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def call(
        self,
        exchange: Any,
        what: str,
        function: Callable[..., T],
        *args: Any,
        counter: CallCounter | None = None,
        **kwargs: Any,
    ) -> T:
        config = self._config
        for attempt in range(config.max_retries + 1):
            if counter is not None:
                counter.requests += 1
            try:
                return function(*args, **kwargs)
            except _CONFIGURATION_ERRORS as error:
                raise ConfigurationError(
                    f"{config.exchange} refused {what}: {error}",
                    fix="check the exchange, symbol, timeframe and credentials",
                ) from error
            except _TEMPORARY_ERRORS as error:
                retry_after = (
                    retry_after_seconds(exchange) if isinstance(error, _RATE_LIMIT_ERRORS) else None
                )
                if retry_after is not None and retry_after > config.retry_after_max_s:
                    raise TemporaryError(
                        f"{config.exchange} asks to wait {retry_after:.0f}s before {what}",
                        fix="rerun later; the backfill resumes where it stopped",
                    ) from error
                if attempt == config.max_retries:
                    raise TemporaryError(
                        f"{config.exchange} {what} failed {attempt + 1} times: "
                        f"{type(error).__name__}: {error}",
                        fix="rerun later; the backfill resumes where it stopped",
                    ) from error
                wait = self.delay(attempt, retry_after)
                log.warning(
                    "ccxt.retry",
                    exchange=config.exchange,
                    what=what,
                    attempt=attempt + 1,
                    max_retries=config.max_retries,
                    delay_s=round(wait, 3),
                    retry_after_s=retry_after,
                    error=f"{type(error).__name__}: {error}"[:300],
                )
                if counter is not None:
                    counter.retries += 1
                self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")


def retry_after_seconds(exchange: Any, now: datetime | None = None) -> float | None:
    """The Retry-After of the response that was just refused, in seconds, if it sent one.

    ccxt keeps the headers of the last response it received; for a 429/418 that
    is the refusal itself.
    """
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RawRowRecorder:
    """Pairs every candle ccxt parses with the raw row the exchange sent.

    ccxt's `parse_ohlcvs` silently discards rows without a timestamp (and rows
    before `since`); the data contract forbids dropping anything silently, and
    a rejection report is only useful with the exchange's own row in it. So the
    exchange's `parse_ohlcv` is wrapped on this one instance to keep both sides.
    """

    def __init__(self, exchange: Any) -> None:
        self._parse = exchange.parse_ohlcv
        self.pairs: list[tuple[Any, list[Any]]] = []
        self.parse_errors: dict[int, str] = {}
        exchange.parse_ohlcv = self._record

    def reset(self) -> None:
        self.pairs = []
        self.parse_errors = {}

    def _record(self, ohlcv: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            parsed = list(self._parse(ohlcv, *args, **kwargs))
        except Exception as error:
            # One unparsable row must not sink its whole page: keep a row with no
            # timestamp (ccxt drops it) and remember why, to report it as rejected.
            parsed = [None] * 6
            self.parse_errors[id(parsed)] = f"ccxt could not parse the row ({error})"
        self.pairs.append((ohlcv, parsed))
        return parsed
