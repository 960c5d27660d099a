"""A fill a venue pushes (`OrderGateway.on_fill`) reaches the book: the next reconcile reports
it exactly once, and a checkpoint's fill mark taken while it waits counts it as not booked.
Before, a pushed fill was recorded and marked seen, so the poll that later listed it skipped
it and nothing ever handed it to the book."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from trading_rig import child_of, context, limit_order, make_rig, market, next_bar

from quantgate.execution import SubmitStatus
from quantgate.execution.gateway import FillMark


def test_a_pushed_fill_is_reported_once_by_the_next_reconcile(database_url: str) -> None:
    rig = make_rig(database_url)
    rig.gateway.submit(child_of(limit_order("p1")), context(), market())
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    (pushed,) = rig.broker.fills_since(None).fills

    assert rig.gateway.on_fill(pushed)
    assert not rig.gateway.on_fill(pushed)  # a repeated push changes nothing

    report = rig.gateway.reconcile()
    assert [fill.trade_id for fill in report.fills] == [pushed.trade_id]
    assert report.fills[0].quantity == Decimal("0.1")
    assert rig.gateway.reconcile().fills == ()
    stored = rig.gateway.order("p1")
    assert stored is not None and stored.filled_quantity == Decimal("0.1")
    rig.engine.dispose()


def test_a_fill_mark_counts_a_waiting_pushed_fill_as_not_booked(database_url: str) -> None:
    rig = make_rig(database_url)
    for cid, strategy, quantity in (("m1", "mom", "0.05"), ("m2", "alt", "0.02")):
        order = limit_order(cid, quantity=quantity, strategy=strategy)
        assert rig.gateway.submit(child_of(order), context(), market()).status is SubmitStatus.SENT
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=39_990, low=39_950, high=40_010))
    by_order = {fill.client_order_id: fill for fill in rig.broker.fills_since(None).fills}
    pushed, polled = by_order["m2"], by_order["m1"]
    assert rig.gateway.on_fill(pushed)

    # The pushed fill is the scope's highest fill row, and not in the book yet: a
    # checkpoint taken now must not count it as booked.
    mark = rig.gateway.fill_mark()
    assert mark.through > 0 and mark.waiting == (pushed.trade_id,)
    assert [fill.trade_id for fill in rig.gateway.fills_not_booked(mark)] == [pushed.trade_id]

    # The next poll hands over the waiting fill and the one it found: then nothing is missing.
    report = rig.gateway.reconcile()
    assert [fill.trade_id for fill in report.fills] == [pushed.trade_id, polled.trade_id]
    settled = rig.gateway.fill_mark()
    assert settled.waiting == () and settled.through > mark.through
    assert rig.gateway.fills_not_booked(settled) == []
    # A mark from before both lacks them, in the order they were recorded.
    missing = rig.gateway.fills_not_booked(FillMark(0))
    assert [(f.trade_id, f.quantity) for f in missing] == [
        (pushed.trade_id, Decimal("0.02")),
        (polled.trade_id, Decimal("0.05")),
    ]
    rig.engine.dispose()
