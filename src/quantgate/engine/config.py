"""The engine's own settings (the components it drives have theirs)."""

from __future__ import annotations

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon, Mode


class EngineConfig(ComponentConfig):
    mode: Mode = Mode.BACKTEST
    # Target quantity = equity × weight × capital_fraction ÷ price, rounded toward zero to
    # the lot. Below 1 leaves cash for fees and slippage, so a spot book never borrows.
    capital_fraction: float = Field(0.98, gt=0.0, le=1.0)
    # A rebalance trade smaller than this share of equity is skipped (exits always go):
    # re-sizing by a few basis points is paying costs for nothing.
    min_trade_weight: float = Field(0.01, ge=0.0, lt=1.0)
    # Orders are attributed to this strategy name; empty means the strategy's own name
    # when one strategy runs and "portfolio" when several share the book.
    order_strategy: str = ""
    # Horizon of an order when no signal states one (an exit of a symbol nobody holds a
    # view on any more).
    default_horizon: Horizon = Horizon.H1
    # Paper/live poll the venue at every event; a backtest reconciles only while orders
    # are open (the simulated venue cannot fill anything else).
    reconcile_when_idle: bool = False
    # Closes kept per symbol for volatility and the allocator's risk model.
    history_bars: int = Field(24 * 60 + 1, ge=30)
    # Horizon of the allocator's risk model (returns sampled every horizon.hours bars).
    risk_model_horizon: Horizon = Horizon.D1
