"""Turning strategy state into JSON and back without losing a bit.

Checkpoints must restore to *exactly* the state they were taken from, so that a
restarted strategy emits the same signals as one that never stopped. Python's
float repr round-trips through JSON exactly; datetimes go through ISO 8601 with
their UTC offset; rolling windows keep their bound when rebuilt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantgate.core.clock import ensure_utc
from quantgate.core.errors import DataError


def encode_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def decode_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"expected an ISO 8601 time, got {value!r}", field="checkpoint")
    return ensure_utc(datetime.fromisoformat(value), name="checkpoint time")


def require_time(value: Any) -> datetime:
    moment = decode_time(value)
    if moment is None:
        raise DataError("a required time is missing", field="checkpoint")
    return moment


def bounded(values: Iterable[float], maxlen: int) -> deque[float]:
    """A rolling window rebuilt from a checkpoint; keeps the newest `maxlen` values."""
    return deque((float(value) for value in values), maxlen=maxlen)


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class CloseSeriesState:
    """Per-symbol state of the close-series strategies: recent closes, position, last signal."""

    closes: deque[float]
    position: int = 0
    last_signal_at: datetime | None = None


def dump_close_states(states: dict[str, CloseSeriesState]) -> dict[str, Any]:
    return {
        symbol: {
            "closes": list(state.closes),
            "position": state.position,
            "last_signal_at": encode_time(state.last_signal_at),
        }
        for symbol, state in sorted(states.items())
    }


def load_close_states(payload: dict[str, Any], lookback: int) -> dict[str, CloseSeriesState]:
    return {
        symbol: CloseSeriesState(
            closes=bounded(entry["closes"], lookback),
            position=int(entry["position"]),
            last_signal_at=decode_time(entry["last_signal_at"]),
        )
        for symbol, entry in payload.items()
    }
