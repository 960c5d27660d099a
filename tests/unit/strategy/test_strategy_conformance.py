"""Checks every registered strategy must pass, in the spirit of scikit-learn's estimator checks.

Each check runs the strategy with its default configuration over the same
synthetic market (BTC and ETH cointegrated, SOL independent, model predictions
after most bars), so a new strategy is covered the moment it is registered.
"""

import json
import subprocess
import sys
from typing import Any

import pytest
from strategy_streams import Driver, Event, json_round_trip, market, run

from quantgate.core import Bar, Prediction, Signal
from quantgate.strategy import build_strategy, strategy_names, strategy_spec

NAMES = strategy_names()


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return market(500, 21)


@pytest.fixture(scope="module")
def long_events() -> list[Event]:
    return market(10_000, 22)


@pytest.fixture(scope="module")
def full_runs(events: list[Event]) -> dict[str, list[Signal]]:
    return {name: run(build_strategy(name), events) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_emits_signals_on_the_standard_market(
    name: str, full_runs: dict[str, list[Signal]]
) -> None:
    # Otherwise every other check here would pass vacuously.
    signals = full_runs[name]
    assert len(signals) >= 4
    assert {s.strategy for s in signals} == {name}
    assert any(s.is_exit for s in signals)
    assert any(not s.is_exit for s in signals)


@pytest.mark.parametrize("name", NAMES)
def test_config_hash_is_stable_and_sensitive(name: str) -> None:
    spec = strategy_spec(name)
    first, second = spec.config_type(), spec.config_type()
    assert first.config_hash == second.config_hash
    reloaded = spec.config_type.model_validate(
        json.loads(json.dumps(first.model_dump(mode="json")))
    )
    assert reloaded.config_hash == first.config_hash
    assert spec.config_type(label="other").config_hash != first.config_hash
    assert build_strategy(name).config_hash == first.config_hash


def test_config_hashes_are_the_same_in_another_process() -> None:
    code = (
        "import json\n"
        "from quantgate.strategy import strategy_names, strategy_spec\n"
        "print(json.dumps({n: strategy_spec(n).config_type().config_hash "
        "for n in strategy_names()}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "7", "PATH": ""},
    ).stdout
    assert json.loads(output) == {n: strategy_spec(n).config_type().config_hash for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_is_strict_json_and_restores_to_itself(name: str, events: list[Event]) -> None:
    strategy = build_strategy(name)
    driver = Driver()
    for index, event in enumerate(events):
        driver.feed(strategy, event)
        if index % 397 == 0:
            checkpoint = strategy.checkpoint()
            text = json.dumps(checkpoint, allow_nan=False)
            fresh = build_strategy(name)
            fresh.restore(json.loads(text))
            assert fresh.checkpoint() == checkpoint


@pytest.mark.parametrize("split", [0.2, 0.5, 0.85])
@pytest.mark.parametrize("name", NAMES)
def test_a_restored_instance_continues_exactly_like_an_uninterrupted_one(
    name: str, split: float, events: list[Event], full_runs: dict[str, list[Signal]]
) -> None:
    cut = int(len(events) * split)
    driver = Driver()
    before = build_strategy(name)
    head = run(before, events[:cut], driver)
    saved = json_round_trip(before.checkpoint())
    del before
    after = build_strategy(name)
    after.restore(saved)
    tail = run(after, events[cut:], driver)
    assert tail, "the split should leave signals to compare"
    assert head + tail == full_runs[name]


def _event_time(event: Event) -> Any:
    return event.available_at if isinstance(event, Bar) else event.asof


@pytest.mark.parametrize("name", NAMES)
def test_no_signal_is_dated_after_the_event_that_caused_it(name: str, events: list[Event]) -> None:
    strategy = build_strategy(name)
    driver = Driver()
    for event in events:
        for signal in driver.feed(strategy, event):
            assert signal.asof <= _event_time(event)


@pytest.mark.parametrize("name", NAMES)
def test_signals_do_not_depend_on_later_data(name: str, events: list[Event]) -> None:
    """Same past, different future: every signal up to the cut must be identical."""
    cut = len(events) // 2
    other_future = [e for e in market(500, 99) if _event_time(e) > _event_time(events[cut - 1])]
    assert other_future
    original = _per_event(build_strategy(name), events)
    altered = _per_event(build_strategy(name), events[:cut] + other_future)
    assert altered[:cut] == original[:cut]
    assert altered[cut:] != original[cut:]


def _per_event(strategy: Any, stream: list[Event]) -> list[list[Signal]]:
    driver = Driver()
    return [driver.feed(strategy, event) for event in stream]


@pytest.mark.parametrize("name", NAMES)
def test_caches_stay_bounded_over_ten_thousand_bars(name: str, long_events: list[Event]) -> None:
    strategy = build_strategy(name)
    driver = Driver()
    sizes = {}
    bars_seen = 0
    for event in long_events:
        driver.feed(strategy, event)
        if isinstance(event, Bar) and event.symbol == "BTCUSDT":
            bars_seen += 1
            if bars_seen in (2_000, 10_000):
                sizes[bars_seen] = len(json.dumps(strategy.checkpoint()))
    assert bars_seen == 10_000
    longest = max(strategy.lookback, 1)
    for values in _lists(strategy.checkpoint()):
        assert len(values) <= longest
    # Bounded windows: the state after 10,000 bars is no larger than after 2,000
    # (give or take the digits of the prices in it).
    assert sizes[10_000] <= sizes[2_000] * 1.25 + 512


def _lists(payload: Any) -> list[list[Any]]:
    """Every list anywhere inside a checkpoint (the rolling windows among them)."""
    if isinstance(payload, dict):
        return [found for value in payload.values() for found in _lists(value)]
    if isinstance(payload, list):
        return [payload, *(found for value in payload for found in _lists(value))]
    return []


def test_predictions_reach_only_model_driven_strategies(events: list[Event]) -> None:
    predictions = [e for e in events if isinstance(e, Prediction)][:300]
    for name in NAMES:
        signals = run(build_strategy(name), predictions)
        if name == "ml_signal":
            assert signals
        else:
            assert signals == [], name
