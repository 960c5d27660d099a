"""Builders for the execution unit tests: one instrument, bars on an hourly grid, a cost model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from quantgate.core import AssetClass, Bar, Bucket, Instrument, Order, OrderType, Side
from quantgate.execution import CostModelConfig, FeeRate, StandardCostModel, VenueFees

HOUR = timedelta(hours=1)
PUBLICATION = timedelta(seconds=5)
# The signal bar opens at 09:00 and is known at 10:00:05; the decision is taken then.
SIGNAL_BAR_TS = datetime(2024, 3, 1, 9, tzinfo=UTC)
DECISION_TIME = SIGNAL_BAR_TS + HOUR + PUBLICATION

INSTRUMENT = Instrument(
    symbol="TEST",
    venue="sim",
    asset_class=AssetClass.CRYPTO_SPOT,
    bucket=Bucket.MAJORS,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.001"),
    listing_date=date(2020, 1, 1),
)


def bar(
    index: int,
    *,
    open: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    symbol: str = "TEST",
) -> Bar:
    """The bar `index` hours after the signal bar (0 = the signal bar itself)."""
    ts = SIGNAL_BAR_TS + HOUR * index
    return Bar(symbol, ts, ts + HOUR + PUBLICATION, open, high, low, close, volume)


def cost_model() -> StandardCostModel:
    """Taker 5 bps, maker 2 bps; σ = 2 % per bar, so the half-spread is 0.05·σ = 10 bps."""
    return StandardCostModel(
        CostModelConfig(
            venues={
                "sim": VenueFees(
                    tier="standard",
                    tiers={"standard": FeeRate(maker_bps=Decimal(2), taker_bps=Decimal(5))},
                )
            },
            impact_coefficient=1.0,
            spread_volatility_coefficient=0.05,
            min_half_spread_bps=1.0,
            default_volatility=0.02,
        )
    )


def order(
    cid: str,
    side: Side,
    quantity: str,
    order_type: OrderType = OrderType.MARKET,
    *,
    limit: str | None = None,
    stop: str | None = None,
    strategy: str = "test",
) -> Order:
    return Order(
        client_order_id=cid,
        strategy=strategy,
        instrument=INSTRUMENT,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        created_at=DECISION_TIME,
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
    )
