"""The allowed decisions the throttles count, kept in memory: the same windows and the same
duplicate as the queries on risk_gate_decisions they replace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from risk_memory_inputs import allowed

from quantgate.core import AssetClass, Bucket, Instrument, Order, OrderType, Side
from quantgate.risk import RiskLimits
from quantgate.risk.decision import Reservation
from quantgate.risk.memory import (
    AllowedHistory,
    Held,
    RiskMemory,
)

D = Decimal
T0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
BTC = Instrument("BTCUSDT", "sim", AssetClass.CRYPTO_SPOT, Bucket.MAJORS, D("0.01"), D("0.001"),
                 date(2017, 1, 1))  # fmt: skip


def order(cid: str, quantity: str = "0.1", kind: OrderType = OrderType.MARKET) -> Order:
    price = D("40000") if kind is OrderType.LIMIT else None
    return Order(cid, "mom", BTC, Side.BUY, kind, D(quantity), T0, limit_price=price)


def test_windows_count_decisions_strictly_after_their_start() -> None:
    history = AllowedHistory(timedelta(days=1))
    for minute in range(3):
        allowed(history, order(f"o{minute}", f"0.{minute + 1}"), T0 + timedelta(minutes=minute))
    assert history.count_since(T0) == 2  # the one at T0 itself is outside
    assert history.count_since(T0 - timedelta(seconds=1)) == 3
    assert history.count_pair_since(T0 - timedelta(seconds=1), "mom", "BTCUSDT") == 3
    assert history.count_pair_since(T0 - timedelta(seconds=1), "other", "BTCUSDT") == 0


def test_a_duplicate_is_the_same_id_ever_or_the_same_content_lately() -> None:
    history = AllowedHistory(timedelta(minutes=1))
    allowed(history, order("first", "0.1"), T0)
    allowed(history, order("second", "0.1"), T0 + timedelta(seconds=30))
    recent = T0 + timedelta(seconds=40)
    # The same content twice in the window: the first stored is named.
    assert history.duplicate_of(order("third", "0.1"), recent - timedelta(minutes=1)) == "first"
    assert history.duplicate_of(order("third", "0.2"), recent - timedelta(minutes=1)) is None
    # A limit order is the same order only at the same price.
    assert history.duplicate_of(order("third", "0.1", OrderType.LIMIT), T0) is None

    history.forget_before(T0 + timedelta(hours=1))
    late = T0 + timedelta(hours=1)
    assert history.count_since(late - timedelta(minutes=1)) == 0
    assert history.duplicate_of(order("third", "0.1"), late - timedelta(minutes=1)) is None
    assert history.duplicate_of(order("first", "0.5"), late - timedelta(minutes=1)) == "first"


def test_decisions_added_out_of_time_order_count_as_if_added_in_order() -> None:
    forward, backward = AllowedHistory(timedelta(days=1)), AllowedHistory(timedelta(days=1))
    minutes = [0, 5, 5, 9]
    for index, minute in enumerate(minutes):
        allowed(forward, order(f"o{index}", "0.1"), T0 + timedelta(minutes=minute))
    for index, minute in reversed(list(enumerate(minutes))):  # a clock stepping back
        allowed(backward, order(f"o{index}", "0.1"), T0 + timedelta(minutes=minute))
    for since in (T0 - timedelta(minutes=1), T0, T0 + timedelta(minutes=5)):
        assert forward.count_since(since) == backward.count_since(since)
        assert forward.count_pair_since(since, "mom", "BTCUSDT") == backward.count_pair_since(
            since, "mom", "BTCUSDT"
        )
    # The earliest decision within the window names the duplicate, however they came in.
    late = order("late", "0.1")
    assert forward.duplicate_of(late, T0 + timedelta(minutes=1)) == "o1"
    assert backward.duplicate_of(late, T0 + timedelta(minutes=1)) == "o3"  # stored first
    forward.forget_before(T0 + timedelta(days=1, minutes=5))
    backward.forget_before(T0 + timedelta(days=1, minutes=5))
    assert forward.count_since(T0) == backward.count_since(T0) == 1


def test_fills_shrink_a_reservation_until_it_ends() -> None:
    memory = RiskMemory(RiskLimits())
    memory.reserve(
        Held("r1", "mom", "BTCUSDT", Bucket.MAJORS, Side.BUY, D("0.5"), D(40_000), D("0.5"))
    )
    held = memory.open_reservations()
    assert memory.fill("r1", D(0)) == D("0.5")
    assert memory.fill("r1", D("0.2")) == D("0.3")
    # The checks read the record itself: the same tuple, shrunk in place.
    assert memory.open_reservations() is held and held[0].remaining == D("0.3")
    reservation = Reservation("r1", "mom", "BTCUSDT", Bucket.MAJORS, Side.BUY, D("0.3"), D(40_000))
    assert memory.reservations() == (reservation,)
    assert memory.fill("r1", D("0.1")) == D("0.3")  # cumulative: 0.1 in total changes nothing
    assert memory.fill("r1", D("0.5")) == 0
    assert memory.open_reservations() == () and memory.reservations() == ()
    assert memory.fill("r1", D("0.5")) is None


def test_window_starts_follow_the_clock() -> None:
    memory = RiskMemory(RiskLimits(order_rate_window_seconds=60.0, duplicate_window_seconds=10.0))
    first = memory.window_starts(T0)
    assert first == (T0 - timedelta(minutes=1), T0 - timedelta(days=1), T0 - timedelta(seconds=10))
    later = T0 + timedelta(hours=1)
    assert memory.window_starts(later)[0] == later - timedelta(minutes=1)
    assert memory.window_starts(T0) == first
