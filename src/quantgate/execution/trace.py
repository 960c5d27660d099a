"""The execution trace: one row per fill, with the same columns in backtest, paper and live.

Slippage is signed so that a positive number is a cost: a buy filled above the
reference or a sell filled below it. `slippage_bps` is measured from the
decision (theoretical) price, `arrival_slippage_bps` from the mid when the order
reached the venue; their difference is what the wait between decision and
arrival cost.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantgate.core.enums import Side
from quantgate.core.types import Fill
from quantgate.storage.models import ExecutionTraceRow

BPS = Decimal(10_000)

_MONEY = pl.Decimal(38, 18)  # exact, like the table; Parquet stores it as a decimal too

TRACE_SCHEMA: dict[str, Any] = {
    "scope": pl.String,
    "mode": pl.String,
    "venue": pl.String,
    "trade_id": pl.String,
    "client_order_id": pl.String,
    "strategy": pl.String,
    "symbol": pl.String,
    "side": pl.String,
    "quantity": _MONEY,
    "decision_time": pl.Datetime("us", "UTC"),
    "filled_at": pl.Datetime("us", "UTC"),
    "decision_price": _MONEY,
    "arrival_mid": _MONEY,
    "fill_price": _MONEY,
    "slippage_bps": pl.Float64,
    "arrival_slippage_bps": pl.Float64,
    "fee": _MONEY,
    "impact_bps": pl.Float64,
    "policy": pl.String,
}


def slippage_bps(side: Side, fill_price: Decimal, reference: Decimal) -> float:
    """Positive = cost: paid more than the reference on a buy, received less on a sell."""
    return float((fill_price - reference) / reference * BPS * side.sign)


# The trace table's columns, in the order `trace_row` gives them.
TRACE_COLUMNS = tuple(TRACE_SCHEMA)


def trace_row(
    fill: Fill,
    *,
    scope: str,
    mode: str,
    venue: str,
    strategy: str,
    policy: str,
    decision_time: datetime,
    decision_price: Decimal,
    arrival_mid: Decimal,
    impact_bps: float,
) -> tuple[Any, ...]:
    """A fill's trace columns in the order of `TRACE_COLUMNS` (the outbox writes these
    straight to the table, one per fill)."""
    side, price = fill.side, fill.price
    slippage = slippage_bps(side, price, decision_price)
    # Most orders arrive at the price they were decided at: the same figure, computed once
    # (equal decimals give equal quotients, whatever their exponents).
    arrival_slippage = (
        slippage if arrival_mid == decision_price else slippage_bps(side, price, arrival_mid)
    )
    return (
        scope,
        mode,
        venue,
        fill.trade_id,
        fill.client_order_id,
        strategy,
        fill.symbol,
        side.value,
        fill.quantity,
        decision_time,
        fill.filled_at,
        decision_price,
        arrival_mid,
        price,
        slippage,
        arrival_slippage,
        fill.fee,
        impact_bps,
        policy,
    )


def load_trace(engine: Engine, scope: str | None = None) -> pl.DataFrame:
    """The trace as a Polars frame (empty frames keep the schema), ordered by fill time."""
    query = select(ExecutionTraceRow).order_by(ExecutionTraceRow.filled_at, ExecutionTraceRow.id)
    if scope is not None:
        query = query.where(ExecutionTraceRow.scope == scope)
    with Session(engine) as session:
        rows = session.scalars(query).all()
    records = [{name: getattr(row, name) for name in TRACE_SCHEMA} for row in rows]
    return pl.DataFrame(records, schema=TRACE_SCHEMA)
