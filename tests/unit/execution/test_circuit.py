"""The circuit breaker opens after N failures, refuses during the cool-down, then probes once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quantgate.core import SimulatedClock
from quantgate.execution import CircuitBreaker, CircuitBreakerConfig, CircuitState


def test_open_cooldown_half_open_probe_and_close() -> None:
    clock = SimulatedClock(datetime(2024, 1, 1, tzinfo=UTC))
    breaker = CircuitBreaker(clock, CircuitBreakerConfig(failure_threshold=3, cooldown_seconds=30))
    for _ in range(2):
        assert breaker.acquire() is not None
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and breaker.acquire() is None

    clock.advance_by(timedelta(seconds=29))
    assert breaker.acquire() is None
    clock.advance_by(timedelta(seconds=1))
    assert breaker.state is CircuitState.HALF_OPEN
    probe = breaker.acquire()
    assert probe is not None and probe.probe
    assert breaker.acquire() is None  # one probe at a time

    breaker.record_failure()  # the probe failed: open again for a full cool-down
    assert breaker.state is CircuitState.OPEN
    clock.advance_by(timedelta(seconds=30))
    probe = breaker.acquire()
    assert probe is not None
    breaker.release_unused(probe)  # not used (e.g. the risk gate denied): free it again
    probe = breaker.acquire()
    assert probe is not None
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    permit = breaker.acquire()
    assert permit is not None and not permit.probe


def test_a_success_resets_the_failure_count() -> None:
    clock = SimulatedClock(datetime(2024, 1, 1, tzinfo=UTC))
    breaker = CircuitBreaker(clock, CircuitBreakerConfig(failure_threshold=2))
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
