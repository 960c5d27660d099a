"""Shared pieces of the feature integration tests: the synthetic lake's shape, the canary."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from quantgate.features.series import BarGrid
from quantgate.features.units import BarUnit

START = datetime(2021, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DAYS = 60
HOURS = 24 * DAYS


class CanaryUnit(BarUnit):
    """A planted leak: the return of the *next* bar."""

    name = "canary"
    block = "canary"
    version = 1
    reach = 2

    def columns(self) -> tuple[str, ...]:
        return ("canary_next_ret_1h",)

    def params(self) -> dict[str, object]:
        return {"peeks": "one bar ahead"}

    def compute(self, grid: BarGrid) -> dict[str, np.ndarray]:
        log_close = np.log(grid.close)
        following = np.full_like(log_close, np.nan)
        following[:-1] = log_close[1:]
        return {"canary_next_ret_1h": following - log_close}
