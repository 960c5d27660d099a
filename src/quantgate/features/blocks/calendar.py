"""The calendar block: hour of day and day of week of the decision time, cyclically encoded."""

from __future__ import annotations

from typing import Any

import numpy as np

from quantgate.features.blocks.market import pipeline_params
from quantgate.features.config import FeaturesConfig
from quantgate.features.ops import FloatArray
from quantgate.features.series import DAY_US, HOUR_US
from quantgate.features.units import AsofContext, AsofUnit

# 1970-01-01 was a Thursday; with Monday = 0 that is weekday 3.
_EPOCH_WEEKDAY = 3


class CalendarUnit(AsofUnit):
    name = "calendar"
    block = "calendar"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config

    def params(self) -> dict[str, Any]:
        return {
            "pipeline": pipeline_params(self.config),
            "encoding": "sin_cos",
            "weekday0": "monday",
        }

    def columns(self) -> tuple[str, ...]:
        return ("cal_hour_sin", "cal_hour_cos", "cal_dow_sin", "cal_dow_cos", "cal_weekend")

    def compute(self, context: AsofContext) -> dict[str, FloatArray]:
        hour = ((context.asofs % DAY_US) // HOUR_US).astype(np.float64)
        weekday = ((context.asofs // DAY_US + _EPOCH_WEEKDAY) % 7).astype(np.float64)
        return {
            "cal_hour_sin": np.sin(2 * np.pi * hour / 24.0),
            "cal_hour_cos": np.cos(2 * np.pi * hour / 24.0),
            "cal_dow_sin": np.sin(2 * np.pi * weekday / 7.0),
            "cal_dow_cos": np.cos(2 * np.pi * weekday / 7.0),
            "cal_weekend": (weekday >= 5).astype(np.float64),
        }
