"""The typed config of a ccxt market-data source and its backfill."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field, field_validator, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.data.schema import DEFAULT_BAR_PUBLICATION_LATENCY

# Binance spot opened in July 2017; no ccxt venue we target has hourly history before 2017.
DEFAULT_HISTORY_START = datetime(2017, 1, 1, tzinfo=UTC)


class CcxtBackfillConfig(ComponentConfig):
    exchange: str = Field(default="binance", description="ccxt exchange id, e.g. 'binance'")
    market_type: str = Field(
        default="spot",
        description="ccxt market type to load and trade symbols against ('spot', 'swap', …)",
    )
    symbols: tuple[str, ...] = Field(
        default=(),
        description="symbols this source serves (e.g. 'BTCUSDT'); empty = every active market",
    )
    start: AwareDatetime = Field(
        default=DEFAULT_HISTORY_START,
        description="history start to expect when the exchange cannot tell a listing time",
    )
    probe_listing: bool = Field(
        default=True,
        description=(
            "find a symbol's listing time from its first candle (since=0); turn off for "
            "exchanges that ignore `since` and answer with their latest candles instead"
        ),
    )
    listing_probe_timeframe: str = Field(
        default="1m", description="timeframe of the listing probe; the finest gives the best start"
    )
    page_limit: int = Field(default=1000, ge=1, le=10_000, description="candles per request")
    max_retries: int = Field(default=5, ge=0, le=100)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_cap_s: float = Field(default=60.0, gt=0)
    jitter: float = Field(
        default=0.5, ge=0, le=1, description="share of each backoff delay drawn at random"
    )
    retry_after_max_s: float = Field(
        default=300.0,
        ge=0,
        description="longest Retry-After we wait out; a longer one fails the run at once",
    )
    timeout_ms: int = Field(default=10_000, ge=1, description="per-request timeout")
    rate_limit_ms: float | None = Field(
        default=None,
        gt=0,
        description="milliseconds between requests of unit cost; None = ccxt's figure",
    )
    publication_latency_s: float = Field(
        default=DEFAULT_BAR_PUBLICATION_LATENCY.total_seconds(),
        ge=0,
        description="delay after a bar closes before it counts as known",
    )
    urls: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "replacements for entries of ccxt's `urls['api']` (e.g. {'public': "
            "'http://proxy/api/v3'}) for proxies, testnets and tests"
        ),
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="extra ccxt exchange options, merged last"
    )

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        import ccxt

        if value not in ccxt.exchanges:
            raise ValueError(f"{value!r} is not a ccxt exchange id (see ccxt.exchanges)")
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("symbols")
    @classmethod
    def _distinct_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("symbols repeat")
        if any(not symbol or "/" in symbol for symbol in value):
            raise ValueError("symbols are written like 'BTCUSDT' (no empty names, no '/')")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> CcxtBackfillConfig:
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must not be below backoff_base_s")
        return self
