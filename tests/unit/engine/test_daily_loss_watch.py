"""The daily loss limit latches the risk gate on the bar the loss is reached, although the
engine only talks to the gate around orders and on an imminent breach."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_builders import bars, config, frame, run

from quantgate.core import SimulatedClock
from quantgate.engine.backtest import DB_FILE, read_json, run_database
from quantgate.risk import RiskGate, RiskLimits

D = Decimal
# Long from bar 4's open (110), 45.454 units; bar 5 closes at 103: the day's loss is
# 45.454 × 7 + 2.49997 fee (5 bps of 45.454 × 110) = 320.67797 from the day's first
# equity (10 000).
CLOSES = [100, 100, 100, 110, 110, 103, 103, 103]


def limits(max_daily_loss: int) -> dict[str, object]:
    wide = "1000000"
    return {
        "max_order_notional": wide,
        "max_symbol_notional": wide,
        "default_max_bucket_notional": wide,
        "max_gross_notional": wide,
        "max_daily_loss": str(max_daily_loss),
    }


def test_a_loss_past_the_limit_latches_and_denies_the_exit(tmp_path: Path) -> None:
    backtest = config(["AAA"], risk=limits(300))
    result = run(tmp_path, frame(bars("AAA", CLOSES)), backtest)
    engine = result.metrics["engine"]
    assert engine["daily_loss_latched"] is True
    assert engine["denials"] == {"daily_loss_latched": 1}  # bar 5's exit signal
    assert result.trades["side"].to_list() == ["buy"]
    assert result.metrics["positions"] == {"AAA": "45.454"}
    database = run_database(result.path / DB_FILE)
    scope = read_json(result.path / "run.json")["scope"]
    gate = RiskGate(database, RiskLimits(), scope=scope, clock=SimulatedClock(backtest.end))
    status = gate.status()
    assert status.daily_loss_latched
    assert status.daily_anchor is not None and status.daily_anchor.equity == D(10_000)
    (event,) = [e for e in gate.events() if e.kind == "daily_loss"]
    assert D(event.detail["loss"]) == D("320.67797")
    database.dispose()


def test_a_loss_within_the_limit_trades_on(tmp_path: Path) -> None:
    result = run(tmp_path, frame(bars("AAA", CLOSES)), config(["AAA"], risk=limits(400)))
    assert result.metrics["engine"]["daily_loss_latched"] is False
    assert result.trades["side"].to_list() == ["buy", "sell"]
