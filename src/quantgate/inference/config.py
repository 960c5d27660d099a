"""How the prediction service runs: which models it must hold, how often it looks for changes."""

from __future__ import annotations

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon


class ServingConfig(ComponentConfig):
    # Symbols the service must serve; empty = every symbol with an active model.
    symbols: tuple[str, ...] = ()
    horizons: tuple[Horizon, ...] = tuple(Horizon)
    # Alias moves and new feature rows reach a running service within this interval.
    refresh_seconds: float = Field(default=1.0, gt=0, le=3600)
    feature_cache_days: float = Field(default=14.0, gt=0, le=3650)
    shadow_enabled: bool = True
    # Model threads per ONNX session: requests run concurrently, so one is the default.
    intra_op_threads: int = Field(default=1, ge=1, le=64)
