"""Slices of one intent are no duplicates of each other, and a strategy a person re-enabled
has its executions counted from then on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from risk_memory_inputs import allowed as allow

from quantgate.core import AssetClass, Bucket, Instrument, Order, OrderType, Side
from quantgate.core.order_ids import intent_part as intent_of
from quantgate.risk import RiskLimits
from quantgate.risk.memory import AllowedHistory, RiskMemory

D = Decimal
T0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
BTC = Instrument(
    "BTCUSDT", "sim", AssetClass.CRYPTO_SPOT, Bucket.MAJORS, D("0.01"), D("0.001"), date(2017, 1, 1)
)
INTENT_A = "qg" + "a" * 27
INTENT_B = "qg" + "b" * 27


def order(cid: str, quantity: str = "0.02") -> Order:
    return Order(cid, "mom", BTC, Side.BUY, OrderType.LIMIT, D(quantity), T0, limit_price=D(40_200))


@pytest.mark.parametrize(
    ("client_order_id", "intent"),
    [
        (INTENT_A + "000", INTENT_A),
        (INTENT_A + "1f3", INTENT_A),
        ("qg" + "0" * 29, None),  # 31 characters: not the layout
        ("xx" + "0" * 30, None),  # another prefix
        ("r1", None),
    ],
)
def test_the_intent_part_of_an_id(client_order_id: str, intent: str | None) -> None:
    assert intent_of(client_order_id) == intent


@pytest.mark.parametrize(
    ("earlier", "later", "duplicate"),
    [
        # Another slice of the same intent, same content: by design, not a duplicate.
        (INTENT_A + "000", INTENT_A + "001", False),
        # The same content from another intent within the window: a duplicate.
        (INTENT_B + "000", INTENT_A + "001", True),
        # Ids of another layout have no siblings: the content rule applies in full.
        ("manual-1", "manual-2", True),
        (INTENT_A + "000", "manual-2", True),
        # The same id is a duplicate whatever it is.
        (INTENT_A + "002", INTENT_A + "002", True),
    ],
)
def test_a_duplicate_is_the_same_content_from_another_intent(
    earlier: str, later: str, duplicate: bool
) -> None:
    history = AllowedHistory(timedelta(minutes=1))
    allow(history, order(earlier), T0)
    found = history.duplicate_of(order(later), T0 - timedelta(seconds=1))
    assert found == (earlier if duplicate else None)


def test_a_sibling_does_not_hide_a_duplicate_from_another_intent() -> None:
    history = AllowedHistory(timedelta(minutes=1))
    allow(history, order(INTENT_A + "000"), T0)
    allow(history, order(INTENT_B + "000"), T0 + timedelta(seconds=10))
    since = T0 - timedelta(seconds=1)
    assert history.duplicate_of(order(INTENT_A + "001"), since) == INTENT_B + "000"


def test_executions_are_counted_from_the_time_a_strategy_was_re_enabled() -> None:
    memory = RiskMemory(RiskLimits(max_executions_per_strategy_symbol=3))
    for minute in range(3):
        allow(
            memory.allowed, order(f"o{minute}", f"0.0{minute + 1}"), T0 + timedelta(minutes=minute)
        )
    later = T0 + timedelta(minutes=10)
    assert memory.snapshot(order("next"), later, None).executions_in_window == 3

    enabled_at = T0 + timedelta(minutes=5)
    memory.switches.executions_counted_from["mom"] = enabled_at
    assert memory.snapshot(order("next"), later, None).executions_in_window == 0
    allow(memory.allowed, order("at-enable", "0.5"), enabled_at)  # at the time itself: counts
    allow(memory.allowed, order("after", "0.6"), enabled_at + timedelta(minutes=1))
    assert memory.snapshot(order("next"), later, None).executions_in_window == 2
    # A day on, the window starts after the re-enabling: the window alone decides.
    day_on = enabled_at + timedelta(days=1, seconds=30)
    assert memory.snapshot(order("next"), day_on, None).executions_in_window == 1
