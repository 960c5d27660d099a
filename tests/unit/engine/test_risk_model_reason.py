"""When allocator_v2 falls back because the engine's history cannot yet build a risk model,
the reason names the symbols short of history and how many returns each has: "no risk
model" alone sent a user hunting through the symbols."""

from __future__ import annotations

from pathlib import Path

from engine_builders import HOUR, START, bars, config, frame, run

from quantgate.core import Horizon
from quantgate.core.signals import Signal
from quantgate.engine.history import MarketHistory
from quantgate.portfolio.selection import PortfolioConfig, allocate


def history(**closes: list[float]) -> MarketHistory:
    held = MarketHistory()
    for symbol, values in closes.items():
        for close in values:
            held.append(symbol, close)
    return held


def test_the_reason_names_each_symbol_short_of_returns() -> None:
    # Hourly closes sampled every 24th for 1d returns: 200 closes give 8, 30 give 1.
    held = history(AAA=[100.0] * 200, BBB=[50.0] * 30, CCC=[10.0] * 199 + [0.0])
    model, reason = held.risk_model_or_reason(["AAA", "BBB", "CCC", "DDD"], Horizon.D1)
    assert model is None
    assert reason == (
        "the 1d risk model needs 5 returns of every symbol in its history window: "
        "BBB has 1, CCC has a non-positive close, DDD has 0"
    )
    model, reason = held.risk_model_or_reason(["AAA"], Horizon.D1)
    assert model is not None and reason is None
    assert held.risk_model(["AAA", "BBB"], Horizon.D1) is None


def test_the_fallback_reports_it() -> None:
    signal = Signal(
        symbol="BBB",
        asof=START,
        strategy="s",
        target_exposure=1.0,
        strength=1.0,
        reason="r",
        horizon=Horizon.H1,
    )
    result = allocate(
        [signal],
        PortfolioConfig(allocator="allocator_v2"),
        risk_model=None,
        risk_model_missing="BBB has 1",
    )
    assert result.fell_back and result.allocator_used == "legacy"
    assert result.fallback_reason == "no risk model: BBB has 1"


def test_a_backtest_says_which_symbol_held_the_risk_model_back(tmp_path: Path) -> None:
    # AAA enters at hour 4 and is held; BBB's bars start at hour 204 and it enters at its
    # fourth: AAA has 8 daily returns then, BBB none.
    held_long = bars("AAA", [100.0] * 4 + [110.0] * 300)
    late = bars("BBB", [50.0] * 4 + [55.0] * 20, start=START + 204 * HOUR)
    backtest = config(["AAA", "BBB"], portfolio={"allocator": "allocator_v2"})
    result = run(tmp_path, frame(held_long, late), backtest)
    engine = result.metrics["engine"]
    assert engine["allocation_fallbacks"] == 2
    assert engine["last_fallback_reason"] == (
        "no risk model: the 1d risk model needs 5 returns of every symbol in its history "
        "window: BBB has 0"
    )
