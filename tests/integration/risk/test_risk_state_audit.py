"""Risk state that outlives one order, exercised through the real gateway, simulated venue
and database: a reservation must come back exactly when its order's fills are recorded,
even after a reconcile that failed half way."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from quantgate.core import (
    AssetClass,
    Bar,
    Bucket,
    Fill,
    Horizon,
    Instrument,
    Mode,
    Order,
    OrderStatus,
    OrderType,
    Side,
    SimulatedClock,
    TemporaryError,
)
from quantgate.execution import (
    ChildOrder,
    FillBatch,
    MarketContext,
    OrderGateway,
    OrderState,
    SimulatedBroker,
    StandardCostModel,
    SubmitStatus,
    TimeInForce,
)
from quantgate.risk import Quote, RiskContext, RiskGate, RiskLimits
from quantgate.storage import create_db_engine, upgrade
from quantgate.storage.models import RiskReservationRow

D = Decimal
SCOPE = "audit"
NOW = datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)
BTC = Instrument(
    "BTCUSDT", "sim", AssetClass.CRYPTO_SPOT, Bucket.MAJORS, D("0.01"), D("0.001"), date(2017, 1, 1)
)
PRICE = D(40_000)
LIMITS = RiskLimits(max_order_notional=D(10_000), max_symbol_notional=D(20_000))


class FlakyVenue(SimulatedBroker):
    """The simulated venue, whose fill feed can be down and whose order queries can carry a
    fill the database refuses (a fee the venue reported as NaN)."""

    fills_down = False
    corrupt_fee_of: str | None = None

    def fills_since(self, cursor: str | None) -> FillBatch:
        if self.fills_down:
            raise TemporaryError("fills endpoint unavailable")
        return super().fills_since(cursor)

    def query(self, client_order_id: str) -> OrderState | None:
        state = super().query(client_order_id)
        if state is None or client_order_id != self.corrupt_fee_of:
            return state
        fills = tuple(dataclasses.replace(fill, fee=D("NaN")) for fill in state.fills)
        return dataclasses.replace(state, fills=fills)


def _order(client_order_id: str, strategy: str) -> ChildOrder:
    order = Order(
        client_order_id=client_order_id,
        strategy=strategy,
        instrument=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=D("0.1"),
        created_at=NOW,
        limit_price=PRICE,
        mode=Mode.PAPER,
    )
    return ChildOrder(
        order=order,
        time_in_force=TimeInForce.GTC,
        release_at=NOW,
        expires_at=None,
        policy="audit",
        scope=SCOPE,
        horizon=Horizon.H1,
        decision_time=NOW,
        decision_price=PRICE,
        target_quantity=order.quantity,
        slice_index=0,
        slice_count=1,
    )


def _reservation_rows(engine_url: str) -> dict[str, tuple[Decimal, bool]]:
    engine = create_db_engine(engine_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(RiskReservationRow.client_order_id, RiskReservationRow.remaining)
                .add_columns(RiskReservationRow.open)
                .where(RiskReservationRow.scope == SCOPE)
            )
            return {cid: (D(remaining), bool(is_open)) for cid, remaining, is_open in rows}
    finally:
        engine.dispose()


def test_a_fill_rolled_back_with_a_failed_reconcile_is_recorded_by_the_next_one(
    database_url: str,
) -> None:
    engine = create_db_engine(database_url)
    upgrade(engine)
    clock = SimulatedClock(NOW)
    cost_model = StandardCostModel()
    venue = FlakyVenue(clock, cost_model)
    gate = RiskGate(engine, LIMITS, scope=SCOPE, clock=clock)
    gateway: OrderGateway[RiskContext] = OrderGateway(
        engine, venue, gate, cost_model, scope=SCOPE, clock=clock
    )
    context = RiskContext(quotes={"BTCUSDT": Quote.at_price(PRICE, NOW)}, equity=D(100_000))
    market = MarketContext("sim", mid=PRICE, bar_volume=D(1_000_000), volatility=0.01)
    for cid, strategy in (("a", "first"), ("b", "second")):
        assert gateway.submit(_order(cid, strategy), context, market).status is SubmitStatus.SENT

    clock.advance_by(HOUR)
    bar_ts = NOW - timedelta(seconds=5)
    venue.on_bar(Bar("BTCUSDT", bar_ts, bar_ts + HOUR + timedelta(seconds=5), *[40_000.0] * 4, 1e9))
    # Both orders filled at the venue. The fill feed is down, so the fills come with the
    # order queries; b's carries a fee the database refuses, and the whole unit rolls back
    # (a's fill included) — as any database error inside the unit would.
    venue.fills_down, venue.corrupt_fee_of = True, "b"
    with pytest.raises(Exception, match="refusing to store"):
        gateway.reconcile()
    assert {r.client_order_id for r in gate.status().reservations} == {"a", "b"}

    venue.fills_down, venue.corrupt_fee_of = False, None
    report = gateway.reconcile()

    assert sorted(fill.client_order_id for fill in report.fills) == ["a", "b"]
    a, b = gateway.order("a"), gateway.order("b")
    assert a is not None and b is not None
    assert (a.status, a.filled_quantity) == (OrderStatus.FILLED, D("0.1"))
    assert (b.status, b.filled_quantity) == (OrderStatus.FILLED, D("0.1"))
    assert gate.status().reservations == ()
    assert _reservation_rows(database_url) == {"a": (D(0), False), "b": (D(0), False)}
    fills: list[Fill] = gateway.fills("a")
    assert [fill.quantity for fill in fills] == [D("0.1")]
    engine.dispose()
