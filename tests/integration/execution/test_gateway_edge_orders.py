"""The gateway at the edges: fills a cancel's answer carries, and quantities far from one.

A cancel can race a fill: the venue's answer to the cancel lists it. The gateway must
record that fill when it releases the order's reservation (or the filled part counts
toward no limit) and hand it to the book exactly once. A low-priced token trades in
billions of units; such an order must be stored and decided like any other, and one too
large for the outbox's NUMERIC(38, 18) must be denied, never crash the unit of work.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from trading_rig import BTC, HOUR, NOW, context, limit_order, make_rig, market, next_bar

from quantgate.core import AssetClass, Bucket, Instrument, Order, OrderStatus
from quantgate.execution import MarketContext, SubmitStatus
from quantgate.risk import Quote, RiskContext, RiskLimits
from quantgate.storage.models import FillRow, OrderRow

D = Decimal

PENNY_TOKEN = Instrument(
    "PENNYUSDT",
    "sim",
    AssetClass.CRYPTO_SPOT,
    Bucket.MAJORS,
    D("0.00000001"),
    D("1"),
    date(2021, 1, 1),
)
PENNY_PRICE = D("0.00001")
WIDE_LIMITS = RiskLimits(
    max_order_notional=D(1_000_000),
    max_symbol_notional=D(2_000_000),
    default_max_bucket_notional=D(3_000_000),
    max_gross_notional=D(5_000_000),
    max_daily_loss=D(10_000),
)


def penny_order(cid: str, quantity: str) -> Order:
    return limit_order(cid, PENNY_TOKEN, quantity=quantity, price=PENNY_PRICE)


def penny_context() -> RiskContext:
    quote = Quote.at_price(PENNY_PRICE, NOW, D(1))
    return RiskContext(quotes={"PENNYUSDT": quote}, holdings={}, equity=D(10_000_000))


def penny_market() -> MarketContext:
    return MarketContext("sim", mid=PENNY_PRICE, bar_volume=D("1e12"), volatility=0.01)


def test_a_fill_in_a_cancels_answer_is_recorded_and_reported_once(database_url: str) -> None:
    rig = make_rig(database_url)
    order = limit_order("c1", quantity="0.2")
    assert rig.gateway.submit(rig.child(order), context(), market()).status is SubmitStatus.SENT
    rig.clock.advance_by(HOUR)
    # Half a bar's volume under the 10 % participation cap: 0.15 of the 0.2 fill.
    rig.broker.on_bar(next_bar("BTCUSDT", open=40_000, low=39_900, high=40_100, volume=1.5))

    cancelled = rig.gateway.cancel("c1")  # before any reconcile pulled the fill

    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_quantity == D("0.15")
    with Session(rig.engine) as session:
        stored = list(session.scalars(select(FillRow.quantity)))
    assert stored == [D("0.15")]
    unreported = rig.gateway.take_unreported_fills()
    assert [(fill.client_order_id, fill.quantity) for fill in unreported] == [("c1", D("0.15"))]
    assert rig.gateway.take_unreported_fills() == []
    assert rig.gateway.reconcile().fills == ()  # the cursor's copy is de-duplicated
    rig.engine.dispose()


def test_reconcile_reports_a_cancels_fill_nobody_took(database_url: str) -> None:
    rig = make_rig(database_url)
    order = limit_order("c1", quantity="0.2")
    rig.gateway.submit(rig.child(order), context(), market())
    rig.clock.advance_by(HOUR)
    rig.broker.on_bar(next_bar("BTCUSDT", open=40_000, low=39_900, high=40_100, volume=1.5))
    rig.gateway.cancel("c1")

    report = rig.gateway.reconcile()

    assert [(fill.client_order_id, fill.quantity) for fill in report.fills] == [("c1", D("0.15"))]
    assert rig.gateway.reconcile().fills == ()
    rig.engine.dispose()


def test_billions_of_units_are_stored_exactly_and_decided(database_url: str) -> None:
    rig = make_rig(database_url, limits=WIDE_LIMITS)
    quantity = "15000000000"  # 15 billion units, a 150,000 order

    result = rig.gateway.submit(
        rig.child(penny_order("p1", quantity)), penny_context(), penny_market()
    )

    assert result.status is SubmitStatus.SENT
    with Session(rig.engine) as session:
        row = session.get(OrderRow, "p1")
        assert row is not None
        assert row.quantity == D(quantity)
        assert row.limit_price == PENNY_PRICE
    assert [d.decision for d in rig.decisions("p1")] == ["allowed"]
    rig.engine.dispose()


def test_a_quantity_beyond_the_outbox_range_is_denied_and_recorded(database_url: str) -> None:
    rig = make_rig(database_url)
    huge = limit_order("h1", BTC, quantity="1E+26")

    result = rig.gateway.submit(rig.child(huge), context(), market())

    assert result.status is SubmitStatus.DENIED
    assert [(d.client_order_id, d.decision) for d in rig.decisions()] == [("h1", "denied")]
    assert rig.gateway.order("h1") is None
    assert rig.broker.submit_calls == 0
    rig.engine.dispose()


def test_instrument_grid_checks_are_exact_for_any_magnitude() -> None:
    assert BTC.is_on_lot(D("1E+26"))
    assert not BTC.is_on_lot(D("100000000000000000000000000.0005"))
    assert PENNY_TOKEN.is_on_tick(D("123456789012345678901234567890.00000001"))
    assert not PENNY_TOKEN.is_on_tick(D("123456789012345678901234567890.000000015"))
    assert BTC.is_on_lot(D("-2.5"))


def test_the_gate_denies_what_no_outbox_row_could_hold(database_url: str) -> None:
    rig = make_rig(database_url, limits=WIDE_LIMITS)
    # 10**20 units at a price so small the notional is within every limit.
    order = limit_order("h2", PENNY_TOKEN, quantity="1E+20", price=D("0.00000001"))

    result = rig.gateway.submit(rig.child(order), penny_context(), penny_market())

    assert result.status is SubmitStatus.DENIED
    assert result.deny_reason is not None and result.deny_reason.value == "invalid_quantity"
    assert [(d.client_order_id, d.reason) for d in rig.decisions()] == [("h2", "invalid_quantity")]
    rig.engine.dispose()
