"""The outbox makes and copies its order records without their __init__: each record must
still carry exactly the dataclass's fields, stay frozen and equal its row in the database."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from decimal import Decimal

import pytest
from trading_rig import child_of, context, limit_order, make_rig, market, next_bar

from quantgate.core import OrderStatus
from quantgate.execution import OutboxOrder, SubmitStatus, TimeInForce

FIELDS = {field.name for field in fields(OutboxOrder)}


def check(record: OutboxOrder | None) -> OutboxOrder:
    assert record is not None
    assert set(vars(record)) == FIELDS
    assert record == OutboxOrder(**vars(record))
    with pytest.raises(FrozenInstanceError):
        record.status = OrderStatus.NEW  # type: ignore[misc]
    return record


def test_records_through_send_partial_fill_and_cancel(database_url: str) -> None:
    rig = make_rig(database_url)
    child = child_of(limit_order("c1", quantity="0.2"), time_in_force=TimeInForce.IOC)
    sent = rig.gateway.submit(child, context(), market())
    assert sent.status is SubmitStatus.SENT
    accepted = check(sent.order)
    assert accepted.status is OrderStatus.ACCEPTED and accepted.filled_quantity == 0

    rig.broker.on_bar(next_bar("BTCUSDT", volume=1.0))  # room for 0.1: the rest is cancelled
    report = rig.gateway.reconcile()
    (cancelled,) = report.settled
    check(cancelled)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_quantity == Decimal("0.1")
    assert cancelled.quantity == accepted.quantity and cancelled.sent_at == accepted.sent_at
    assert rig.gateway.order("c1") == cancelled  # what the database holds
    rig.engine.dispose()
