"""A denial is logged at info in paper and live, where an operator follows it as it
happens, and at debug in a backtest, whose denials are counted in its metrics and kept
in risk_gate_decisions (a line each used to bury the run's progress bar)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from trading_rig import context, limit_order, make_rig

from quantgate.core import DenyReason, Mode


@pytest.mark.parametrize(
    ("mode", "level"), [(Mode.BACKTEST, "debug"), (Mode.PAPER, "info"), (Mode.LIVE, "info")]
)
def test_denial_log_level_follows_the_mode(tmp_path: Path, mode: Mode, level: str) -> None:
    rig = make_rig(f"sqlite:///{tmp_path / 'risk.db'}")
    # 0.3 BTC at 40,000 is 12,000: over the 10,000 per-order notional limit.
    order = replace(limit_order(f"too-big-{mode}", quantity="0.3"), mode=mode)
    with capture_logs() as logs:
        decision = rig.gate.check(order, context())
    assert decision.reason is DenyReason.MAX_ORDER_NOTIONAL
    denials = [entry for entry in logs if entry["event"] == "risk_denied"]
    assert [(entry["log_level"], entry["client_order_id"]) for entry in denials] == [
        (level, order.client_order_id)
    ]
    # Whatever the log says, the decision row is the record.
    assert [row.reason for row in rig.decisions(order.client_order_id)] == ["max_order_notional"]
