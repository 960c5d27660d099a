from datetime import UTC, datetime

import pytest

from quantgate.core import DataError, Horizon, ProgrammerError, Signal

T = datetime(2024, 3, 1, 12, tzinfo=UTC)


def make(**overrides: object) -> Signal:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "asof": T,
        "strategy": "momentum",
        "target_exposure": 0.5,
        "strength": 0.7,
        "horizon": Horizon.H4,
        "reason": "test",
    }
    values.update(overrides)
    return Signal(**values)  # type: ignore[arg-type]


def test_round_trips_through_a_plain_dict() -> None:
    signal = make(
        expected_return=0.012,
        confidence=0.61,
        vol_forecast=0.03,
        stop_price=95.5,
        target_price=110.25,
        group="pair:A/B",
    )
    assert Signal.from_dict(signal.to_dict()) == signal


@pytest.mark.parametrize(
    ("exposure", "direction", "is_exit"), [(0.3, 1, False), (-1.0, -1, False), (0.0, 0, True)]
)
def test_direction_and_exit(exposure: float, direction: int, is_exit: bool) -> None:
    signal = make(target_exposure=exposure)
    assert signal.direction == direction
    assert signal.is_exit is is_exit


@pytest.mark.parametrize(
    "overrides",
    [
        {"target_exposure": 1.01},
        {"target_exposure": float("nan")},
        {"strength": -0.1},
        {"confidence": 1.5},
        {"vol_forecast": 0.0},
        {"stop_price": -1.0},
        {"expected_return": float("inf")},
        {"symbol": ""},
    ],
)
def test_an_invalid_signal_is_a_bug(overrides: dict[str, object]) -> None:
    with pytest.raises(ProgrammerError):
        make(**overrides)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ProgrammerError):
        make(asof=datetime(2024, 3, 1))


def test_asof_is_normalised_to_utc() -> None:
    from datetime import timedelta, timezone

    local = T.astimezone(timezone(timedelta(hours=2)))
    assert make(asof=local).asof.tzinfo is UTC


def test_malformed_payload_is_a_data_error() -> None:
    payload = make().to_dict()
    del payload["horizon"]
    with pytest.raises(DataError):
        Signal.from_dict(payload)
