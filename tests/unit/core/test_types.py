from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from quantgate.core import (
    AssetClass,
    Bar,
    Bucket,
    DataError,
    Fill,
    Horizon,
    Instrument,
    Position,
    Prediction,
    ProgrammerError,
    Side,
    SimulatedClock,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def fill(side: Side, quantity: str, price: str, fee: str = "0") -> Fill:
    return Fill("t", "c", "BTCUSDT", side, Decimal(quantity), Decimal(price), Decimal(fee), T0)


def test_position_realises_pnl_on_reduce_and_flip() -> None:
    position = Position("BTCUSDT").apply(fill(Side.BUY, "2", "100", "0.1"))
    position = position.apply(fill(Side.BUY, "2", "110"))
    assert position.quantity == 4
    assert position.average_price == Decimal("105")
    position = position.apply(fill(Side.SELL, "5", "120", "0.2"))
    # 4 closed at +15 each, minus both fees; 1 left short at 120.
    assert position.realized_pnl == Decimal("60") - Decimal("0.3")
    assert position.quantity == -1
    assert position.average_price == Decimal("120")
    flat = position.apply(fill(Side.BUY, "1", "100"))
    assert flat.quantity == 0 and flat.average_price == 0
    assert flat.realized_pnl == Decimal("79.7")


def test_bar_consistency_reports_each_problem() -> None:
    good = Bar("X", T0, T0 + timedelta(hours=1), 10, 12, 9, 11, 5)
    assert good.consistency_problems() == []
    bad = Bar("X", T0, T0, 10, 9.5, 9, 11, -1)
    assert bad.consistency_problems() == ["high below open or close", "volume negative"]
    assert Bar("X", T0, T0, float("nan"), 1, 1, 1, 1).consistency_problems() == [
        "open is not finite"
    ]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ProgrammerError, match="timezone-aware"):
        Bar("X", datetime(2024, 1, 1), T0, 1, 1, 1, 1, 1)


def test_times_in_another_zone_are_stored_in_utc_and_utc_ones_as_given() -> None:
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    bar = Bar("X", paris, paris, 1, 1, 1, 1, 1)
    assert bar.ts == T0 and bar.ts.tzinfo is UTC and bar.available_at.tzinfo is UTC
    converted = Fill("t", "c", "X", Side.BUY, Decimal(1), Decimal(1), Decimal(0), paris)
    assert converted.filled_at == T0 and converted.filled_at.tzinfo is UTC
    assert fill(Side.BUY, "1", "1").filled_at is T0


def test_simulated_clock_never_goes_back() -> None:
    clock = SimulatedClock(T0)
    clock.advance_by(timedelta(hours=1))
    assert clock.now() == T0 + timedelta(hours=1)
    with pytest.raises(ProgrammerError, match="cannot go back"):
        clock.advance_to(T0)


def test_horizon_durations() -> None:
    assert [h.hours for h in Horizon] == [1, 4, 24, 168]
    assert Horizon("1d") is Horizon.D1


def test_instrument_tick_and_lot() -> None:
    instrument = Instrument(
        "BTCUSDT",
        "binance",
        AssetClass.CRYPTO_SPOT,
        Bucket.MAJORS,
        Decimal("0.01"),
        Decimal("0.001"),
        date(2017, 8, 17),
    )
    assert instrument.is_on_tick(Decimal("100.01"))
    assert not instrument.is_on_tick(Decimal("100.015"))
    assert instrument.is_on_lot(Decimal("0.002"))
    assert not instrument.is_on_lot(Decimal("0.0015"))


def test_fill_and_prediction_validate_values() -> None:
    with pytest.raises(DataError, match=r"Fill\.quantity"):
        fill(Side.BUY, "0", "1")
    with pytest.raises(DataError, match="signal_confidence"):
        Prediction("X", T0, {Horizon.H1: 0.1}, {Horizon.H1: 1.5}, {Horizon.H1: 0.2})
