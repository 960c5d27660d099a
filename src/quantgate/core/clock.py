"""Clocks behind one interface, so backtest, paper and live read time the same way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from quantgate.core.errors import ProgrammerError


def ensure_utc(moment: datetime, *, name: str = "time") -> datetime:
    """Return `moment` in UTC; refuse naive datetimes rather than guess their zone."""
    if moment.tzinfo is UTC:  # the common case, on every order and fill: nothing to convert
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProgrammerError(f"{name} must be timezone-aware (got naive {moment.isoformat()})")
    return moment.astimezone(UTC)


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current UTC time as this clock sees it."""


class WallClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock(Clock):
    """A clock moved explicitly by the engine; it never goes backwards."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, name="start")

    def now(self) -> datetime:
        return self._now

    def advance_to(self, moment: datetime) -> None:
        moment = ensure_utc(moment, name="moment")
        if moment < self._now:
            raise ProgrammerError(
                f"simulated clock cannot go back from {self._now.isoformat()} "
                f"to {moment.isoformat()}"
            )
        self._now = moment

    def catch_up(self, moment: datetime) -> None:
        """Move to `moment` when it is later; an earlier or equal one leaves the clock be.
        (The engine's once-per-event call: one comparison when nothing is to be done.)"""
        if moment > self._now:
            self._now = ensure_utc(moment, name="moment")

    def advance_by(self, step: timedelta) -> None:
        self.advance_to(self._now + step)
