"""A NaN or infinite strategy parameter is refused when the backtest config is read (as the
CLI does before it creates a run folder): one error naming the parameter and the fix. An
infinite stop used to pass, then fail writing run.json with a traceback and leave the
run folder behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quantgate.core import ConfigurationError
from quantgate.engine.backtest import BacktestConfig


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", float("inf"), float("nan")])
def test_a_non_finite_stop_is_refused_naming_the_parameter(value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        BacktestConfig.parse(
            {
                "strategy": "mean_reversion",
                "params": {"stop_z": value},
                "symbols": ["BTCUSDT"],
                "start": datetime(2025, 1, 1, tzinfo=UTC),
                "end": datetime(2025, 1, 3, tzinfo=UTC),
            },
            where="backtest config",
        )
    message = str(raised.value)
    assert "strategy.mean_reversion.stop_z: Input should be a finite number" in message
    assert "Fix: make it a finite number" in message
