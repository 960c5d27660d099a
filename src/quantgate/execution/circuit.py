"""A circuit breaker around the broker: stop hammering a venue that keeps failing.

Closed: calls pass; `failure_threshold` consecutive failures open it. Open: calls
are refused until `cooldown` has passed on the clock. Half-open: exactly one
probe call passes; its success closes the breaker, its failure opens it again
for another cool-down. Time comes from the engine's clock, so a backtest and a
test can drive it without sleeping.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from quantgate.core.clock import Clock
from quantgate.execution.config import CircuitBreakerConfig

log = structlog.get_logger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; `probe` marks the single half-open trial call."""

    probe: bool


# Permits are immutable and tell nothing but `probe`: one of each kind serves every call
# (a permit is acquired for every order sent).
_ORDINARY = Permit(probe=False)
_PROBE = Permit(probe=True)


class CircuitBreaker:
    def __init__(self, clock: Clock, config: CircuitBreakerConfig | None = None) -> None:
        self.config = config or CircuitBreakerConfig()
        self._clock = clock
        self._cooldown = timedelta(seconds=self.config.cooldown_seconds)
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probe_out = False
        self._lock = threading.Lock()

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state()

    def acquire(self) -> Permit | None:
        """Leave to call now, or None. When half-open only the first caller gets the probe."""
        with self._lock:
            state = self._state()
            if state is CircuitState.CLOSED:
                return _ORDINARY
            if state is CircuitState.HALF_OPEN and not self._probe_out:
                self._probe_out = True
                return _PROBE
            return None

    def headroom(self) -> int:
        """Calls that may fail one after another while the breaker stays closed for each of
        them (0 unless closed): a batch that size sees the breaker as calls one at a time."""
        with self._lock:
            if self._state() is not CircuitState.CLOSED:
                return 0
            return self.config.failure_threshold - self._failures

    def release_unused(self, permit: Permit) -> None:
        """The call was not made after all (e.g. the risk gate denied it): free the probe."""
        if permit.probe:
            with self._lock:
                self._probe_out = False

    def record_success(self) -> None:
        with self._lock:
            was_open = self._opened_at is not None
            self._failures = 0
            self._opened_at = None
            self._probe_out = False
        if was_open:
            log.info("circuit_closed")

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            failures, probe_failed = self._failures, self._probe_out
            self._probe_out = False
            opens = probe_failed or failures >= self.config.failure_threshold
            if opens:
                self._opened_at = self._clock.now()
        if opens:
            log.warning("circuit_opened", consecutive_failures=failures)

    def retry_at(self) -> datetime | None:
        with self._lock:
            return None if self._opened_at is None else self._opened_at + self._cooldown

    def _state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock.now() - self._opened_at >= self._cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN
