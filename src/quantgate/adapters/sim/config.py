"""The synthetic market's configuration: what to generate and how strong the planted effects are.

Everything the generator draws is a function of these values (and of the
generator's own code), so `config_hash` plus the seed identifies a dataset.
`end=None` means "up to now"; the caller resolves it once with `resolved()` and
stores the resolved config, so a stored spec always names a fixed end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.config.settings import DEFAULT_UNIVERSE
from quantgate.core.errors import ProgrammerError
from quantgate.data.schema import DEFAULT_BAR_PUBLICATION_LATENCY, DEFAULT_TEXT_INGESTION_LATENCY

HOUR = timedelta(hours=1)
DEFAULT_START = datetime(2018, 1, 1, tzinfo=UTC)


def floor_to_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


class SyntheticMarketConfig(ComponentConfig):
    seed: int = Field(7, ge=0)
    symbols: tuple[str, ...] = DEFAULT_UNIVERSE
    start: datetime = DEFAULT_START
    end: datetime | None = None  # exclusive; None = now floored to the hour, see resolved()

    # Planted gaps: the share of hourly bars (in runs of 1-12 h) and of symbol-days of
    # social text that `data generate` leaves out, for the audit and backfill to find.
    gap_fraction: float = Field(0.0, ge=0.0, le=0.5)
    social_gap_fraction: float = Field(0.0, ge=0.0, le=0.5)  # defaults to gap_fraction

    posts_per_day_base: float = Field(1.5, gt=0.0)
    comments_per_post: float = Field(12.0, gt=0.0)

    bar_latency_seconds: float = Field(DEFAULT_BAR_PUBLICATION_LATENCY.total_seconds(), ge=0.0)
    text_latency_seconds: float = Field(DEFAULT_TEXT_INGESTION_LATENCY.total_seconds(), ge=0.0)

    # Planted predictability (see market.py for the model).
    sentiment_half_life_hours: float = Field(24.0, gt=0.0)
    # Expected next-hour return per unit of (unit-variance) sentiment, in units of the
    # symbol's hourly volatility.
    sentiment_drift: float = Field(0.05, ge=0.0, le=1.0)
    # Next-hour return = ... - reversal * last hour's idiosyncratic shock.
    reversal: float = Field(0.1, ge=0.0, lt=1.0)
    # Log-odds of bullish vs bearish wording per unit of sentiment.
    tone_sensitivity: float = Field(1.5, ge=0.0)

    # Level-2 books (served on request, never stored by `data generate`).
    book_latency_seconds: float = Field(0.05, ge=0.0)
    book_spread_bps: float = Field(1.0, gt=0.0)
    book_level_notional: float = Field(25_000.0, gt=0.0)
    # Correlation-like weight of the next minutes' mid move in the top-of-book imbalance.
    book_imbalance_signal: float = Field(0.2, ge=0.0, le=1.0)
    book_imbalance_horizon_seconds: int = Field(300, ge=1, le=3600)
    book_max_window_hours: float = Field(24.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _social_gaps_follow_bar_gaps(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("social_gap_fraction") is None:
            values = {**values, "social_gap_fraction": values.get("gap_fraction", 0.0)}
        return values

    @field_validator("symbols")
    @classmethod
    def _symbols_are_distinct_names(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        if not symbols:
            raise ValueError("at least one symbol is needed")
        for symbol in symbols:
            if not symbol or symbol != symbol.strip() or " " in symbol:
                raise ValueError(f"symbol {symbol!r} must be a non-empty name without spaces")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols must be distinct")
        return symbols

    @field_validator("start")
    @classmethod
    def _start_is_a_utc_midnight(cls, start: datetime) -> datetime:
        start = _as_utc(start, "start")
        # Social text is generated per calendar day, so the origin must be a day boundary.
        if start != start.replace(hour=0, minute=0, second=0, microsecond=0):
            raise ValueError(f"start must be a UTC midnight, got {start.isoformat()}")
        return start

    @field_validator("end")
    @classmethod
    def _end_is_a_utc_hour(cls, end: datetime | None) -> datetime | None:
        if end is None:
            return None
        end = _as_utc(end, "end")
        if end != floor_to_hour(end):
            raise ValueError(f"end must be on a whole UTC hour, got {end.isoformat()}")
        return end

    @model_validator(mode="after")
    def _end_after_start(self) -> SyntheticMarketConfig:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} must be after start")
        return self

    def resolved(self, now: datetime | None = None) -> SyntheticMarketConfig:
        """This config with `end` fixed (now floored to the hour when unset)."""
        if self.end is not None:
            return self
        moment = now if now is not None else datetime.now(UTC)
        values = self.model_dump()
        values["end"] = floor_to_hour(_as_utc(moment, "now"))
        return type(self).model_validate(values)

    @property
    def resolved_end(self) -> datetime:
        if self.end is None:
            raise ProgrammerError("SyntheticMarketConfig.end is unset; call resolved() first")
        return self.end

    @property
    def total_hours(self) -> int:
        return int((self.resolved_end - self.start) / HOUR)

    @property
    def bar_latency(self) -> timedelta:
        return timedelta(seconds=self.bar_latency_seconds)

    @property
    def text_latency(self) -> timedelta:
        return timedelta(seconds=self.text_latency_seconds)

    @property
    def book_latency(self) -> timedelta:
        return timedelta(seconds=self.book_latency_seconds)
