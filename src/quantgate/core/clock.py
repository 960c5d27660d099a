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


class LatestIsoformat:
    """`moment.isoformat()`, remembering the latest UTC time and its text.

    Hot paths format the same instant many times in a row (every intent of one decision,
    every child released by one event), and isoformat is the costly part. One entry,
    replaced whole: a thread racing another only computes the text again. UTC times
    only: equal times in another zone (or another fold) can have another text.
    """

    def __init__(self) -> None:
        self._latest: tuple[datetime, str] | None = None

    def __call__(self, moment: datetime) -> str:
        if moment.tzinfo is not UTC:
            return moment.isoformat()
        latest = self._latest
        if latest is not None and latest[0] == moment:
            return latest[1]
        text = moment.isoformat()
        self._latest = (moment, text)
        return text


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
