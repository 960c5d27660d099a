"""Risk limits. Defaults are deliberately small: a forgotten limit denies, it never allows."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Bucket


class RiskLimits(ComponentConfig):
    # Per order, in quote currency and in the instrument's quantity units.
    max_order_notional: Decimal = Field(Decimal(1_000), gt=0)
    max_order_quantity: dict[str, Decimal] = Field(default_factory=dict)
    default_max_order_quantity: Decimal | None = Field(None, gt=0)

    # Worst-case exposure (positions plus every open order filling) in quote currency.
    max_symbol_notional: Decimal = Field(Decimal(5_000), gt=0)
    max_bucket_notional: dict[Bucket, Decimal] = Field(default_factory=dict)
    default_max_bucket_notional: Decimal = Field(Decimal(10_000), gt=0)
    max_gross_notional: Decimal = Field(Decimal(20_000), gt=0)

    # Loss from the day's first equity (UTC day) that latches the gate shut.
    max_daily_loss: Decimal = Field(Decimal(500), gt=0)

    # Reference price: a quote older than this, or wider than this, is no reference.
    max_reference_age_seconds: float = Field(300.0, gt=0.0)
    max_spread_bps: float = Field(50.0, gt=0.0)
    # A limit or stop price further than this from the reference mid is a fat finger.
    price_collar_bps: float = Field(500.0, gt=0.0)

    # Allowed orders per rolling window, across the scope.
    max_orders_per_window: int = Field(60, ge=1)
    order_rate_window_seconds: float = Field(60.0, gt=0.0)

    # The same strategy, symbol, side, type, quantity and price again within this window,
    # from another intent (a plan's slices are the same order by design).
    duplicate_window_seconds: float = Field(60.0, ge=0.0)

    # More allowed orders than this for one strategy and symbol within the window means
    # the strategy is looping: it is disabled until a person re-enables it, and counted
    # from the re-enabling on. Every order counts, each slice of a long-horizon plan too:
    # LongHorizonConfig.slices (up to 500) over its window_seconds must leave room for
    # them within execution_window_seconds: a config where one plan alone reaches the
    # limit is refused when it is read (quantgate.engine.slice_room).
    max_executions_per_strategy_symbol: int = Field(50, ge=1)
    execution_window_seconds: float = Field(86_400.0, gt=0.0)

    def order_quantity_limit(self, symbol: str) -> Decimal | None:
        return self.max_order_quantity.get(symbol, self.default_max_order_quantity)

    def bucket_limit(self, bucket: Bucket) -> Decimal:
        return self.max_bucket_notional.get(bucket, self.default_max_bucket_notional)
