"""A long-horizon plan whose slices alone reach the repeated-execution limit would disable
its strategy part-way through every plan: the config is refused when it is read, naming
the fields and the largest slice count that fits (it was only written in a docstring)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from quantgate.core import ConfigurationError
from quantgate.engine.backtest import BacktestConfig
from quantgate.engine.live import SessionConfig
from quantgate.engine.slice_room import slice_room_error, slices_before_last
from quantgate.execution.config import LongHorizonConfig
from quantgate.risk.config import RiskLimits


def _backtest(**overrides: Any) -> dict[str, Any]:
    return {
        "strategy": "momentum",
        "symbols": ["BTCUSDT"],
        "start": datetime(2025, 1, 1, tzinfo=UTC),
        "end": datetime(2025, 1, 3, tzinfo=UTC),
        **overrides,
    }


@pytest.mark.parametrize(
    ("slices", "window", "execution_window", "expected"),
    [
        (6, 6 * 3600, 86_400, 5),  # the whole plan inside one day
        (500, 86_400, 86_400, 499),  # every slice but the last one is counted
        (500, 7 * 86_400, 86_400, 71),  # a slice every 1,209.6 s: 72 within a day
        (7, 7 * 86_400, 86_400, 0),  # one a day: the one a day earlier is not after now − 1 d
        (8, 7 * 86_400, 86_400, 1),
    ],
)
def test_the_earlier_slices_the_gate_counts(
    slices: int, window: int, execution_window: float, expected: int
) -> None:
    assert slices_before_last(slices, window, execution_window) == expected


def test_the_defaults_fit() -> None:
    assert slice_room_error(LongHorizonConfig(), RiskLimits()) is None


def test_a_backtest_with_production_limits_and_too_many_slices_is_refused() -> None:
    values = _backtest(long_horizon={"slices": 60}, risk={})
    with pytest.raises(ConfigurationError) as raised:
        BacktestConfig.parse(values, where="backtest config")
    message = str(raised.value)
    assert "long_horizon.slices=60 over long_horizon.window_seconds[1d]=21600" in message
    assert "sends 60 orders of one plan within risk.execution_window_seconds=86400" in message
    assert "max_executions_per_strategy_symbol=50 disables the strategy at order 51" in message
    assert "give at most 50 slices" in message


def test_the_seven_day_window_spreads_more_slices() -> None:
    # 1d: 6 h for 50 slices, all within a day; 7d: 24 h, 50 slices, all within a day too.
    assert slice_room_error(LongHorizonConfig(slices=50), RiskLimits()) is None
    wide = {"window_seconds": {"1d": 86_400, "7d": 7 * 86_400}, "slices": 300}
    message = slice_room_error(LongHorizonConfig.model_validate(wide), RiskLimits())
    assert message is not None
    assert "window_seconds[1d]=86400" in message
    # 7 days at most 50 a day: 350 slices (one every 1,728 s, 50 within a day)
    assert (
        slice_room_error(
            LongHorizonConfig.model_validate(
                {**wide, "window_seconds": {"1d": 7 * 86_400, "7d": 7 * 86_400}, "slices": 350}
            ),
            RiskLimits(),
        )
        is None
    )


def test_a_backtest_without_risk_limits_uses_wide_ones() -> None:
    parsed = BacktestConfig.parse(_backtest(long_horizon={"slices": 500}))
    assert isinstance(parsed, BacktestConfig)


def test_a_paper_session_with_too_many_slices_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="give at most 50 slices"):
        SessionConfig.parse(
            {"strategy": "momentum", "symbols": ["BTCUSDT"], "long_horizon": {"slices": 51}}
        )
    assert SessionConfig.parse(
        {"strategy": "momentum", "symbols": ["BTCUSDT"], "long_horizon": {"slices": 50}}
    )
