"""Parsing of command-line values, with errors that name the option and the fix."""

from __future__ import annotations

from datetime import UTC, datetime

from quantgate.core.errors import ConfigurationError

EMBEDDER_HELP = "minilm-onnx-int8 | minilm-onnx | minilm | hashing (default: settings)"


def parse_utc(value: str, option: str) -> datetime:
    """ISO-8601 in UTC ('2018-01-01', '2018-01-01T00:00:00Z', '+00:00') or 'now'."""
    text = value.strip()
    if text.lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"cannot read {value!r} as a time",
            field=option,
            fix="give an ISO-8601 UTC time such as 2018-01-01T00:00:00Z (or 'now')",
        ) from None
    if parsed.tzinfo is None:
        if len(text) == 10:  # a bare date means that day's midnight UTC
            return parsed.replace(tzinfo=UTC)
        raise ConfigurationError(
            f"{value!r} has no time zone",
            field=option,
            fix="append Z (UTC), e.g. 2018-01-01T00:00:00Z",
        )
    if parsed.utcoffset() != UTC.utcoffset(None):
        raise ConfigurationError(
            f"{value!r} is not UTC", field=option, fix="give the time in UTC with a Z suffix"
        )
    return parsed.astimezone(UTC)


def parse_symbols(value: str | None, option: str = "--symbols") -> tuple[str, ...] | None:
    if value is None:
        return None
    symbols = tuple(s.strip().upper() for s in value.split(",") if s.strip())
    if not symbols:
        raise ConfigurationError(
            "no symbols given", field=option, fix="e.g. --symbols BTCUSDT,ETHUSDT"
        )
    return symbols
