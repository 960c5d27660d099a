"""The allowed decisions the throttles count, kept in memory: the same windows and the same
duplicate as the queries on risk_gate_decisions they replace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from quantgate.core import AssetClass, Bucket, Instrument, Order, OrderType, Side
from quantgate.risk.memory import AllowedDecision, AllowedHistory, order_content

D = Decimal
T0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
BTC = Instrument("BTCUSDT", "sim", AssetClass.CRYPTO_SPOT, Bucket.MAJORS, D("0.01"), D("0.001"),
                 date(2017, 1, 1))  # fmt: skip


def order(cid: str, quantity: str = "0.1", kind: OrderType = OrderType.MARKET) -> Order:
    price = D("40000") if kind is OrderType.LIMIT else None
    return Order(cid, "mom", BTC, Side.BUY, kind, D(quantity), T0, limit_price=price)


def allowed(history: AllowedHistory, the_order: Order, at: datetime) -> None:
    history.add(
        AllowedDecision(
            history.next_sequence,
            the_order.client_order_id,
            the_order.strategy,
            the_order.instrument.symbol,
            order_content(the_order),
            at,
        )
    )


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
