"""One bar through the whole stack, and the execution trace it leaves (table → Polars → Parquet)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from trading_rig import BTC, ETH, NOW, SCOPE, context, make_rig, next_bar

from quantgate.core import Horizon, Mode, Side
from quantgate.execution import (
    SHORT_HORIZON_EXEC,
    TRACE_SCHEMA,
    ExecutionIntent,
    ExecutionSchedule,
    MarketContext,
    PolicyBook,
    SubmitStatus,
    load_trace,
)
from quantgate.execution.trace import slippage_bps

D = Decimal


def test_one_bar_from_intent_to_trace(database_url: str, tmp_path: Path) -> None:
    rig = make_rig(database_url)
    schedule = ExecutionSchedule()
    for instrument, target, price in ((BTC, "0.1", 40_000), (ETH, "-0.4", 2_500)):
        intent = ExecutionIntent(
            SCOPE, "mom", instrument, D(0), D(target), NOW, D(price), Horizon.H1, Mode.PAPER
        )
        schedule.add(PolicyBook().plan(intent))

    # Decision time: what is due goes out, priced against the arrival mid.
    for child in schedule.due(rig.clock.now()):
        symbol = child.order.instrument.symbol
        mid = D(40_000) if symbol == "BTCUSDT" else D(2_500)
        market = MarketContext("sim", mid=mid, bar_volume=D(1_000_000), volatility=0.01)
        assert rig.gateway.submit(child, context(), market).status is SubmitStatus.SENT

    # The next bar: the broker matches, the gateway reconciles, the trace is written.
    rig.clock.advance_by(timedelta(hours=1))
    rig.broker.on_bar(next_bar("BTCUSDT", open=40_020, high=40_100, low=39_990, close=40_050))
    rig.broker.on_bar(next_bar("ETHUSDT", open=2_510, high=2_520, low=2_490, close=2_500))
    report = rig.gateway.reconcile()
    assert sorted(f.symbol for f in report.fills) == ["BTCUSDT", "ETHUSDT"]

    frame = load_trace(rig.engine, SCOPE).sort("symbol")
    assert frame.columns == list(TRACE_SCHEMA)
    btc, eth = frame.to_dicts()
    # BTC buy: σ 1 % → half-spread 5 bps; impact 0.01·sqrt(0.1/1e9)·1e4 = 0.001 bps;
    # 40 020 · 1.0005001 = 40 040.014… → 40 040.02 (up to the tick); taker fee 5 bps.
    assert btc["fill_price"] == D("40040.02")
    assert btc["fee"] == D("2.002001")  # 0.1 · 40 040.02 · 0.0005
    assert btc["slippage_bps"] == pytest.approx(10.005)  # paid 40.02 over 40 000
    assert btc["arrival_slippage_bps"] == pytest.approx(10.005)
    # Pre-trade model at submit: 1 · 0.01 · sqrt(0.1 / 1e6) · 1e4 = 0.031623 bps.
    assert btc["impact_bps"] == pytest.approx(0.031623)
    assert (btc["side"], btc["quantity"], btc["decision_price"]) == ("buy", D("0.1"), D(40_000))
    assert (btc["policy"], btc["mode"], btc["venue"]) == (SHORT_HORIZON_EXEC, "paper", "sim")
    assert btc["decision_time"] == NOW and btc["filled_at"] == NOW

    # ETH sell: 2 510 · (1 - 0.0005002) = 2 508.744… → 2 508.74 (down to the tick).
    # Received 8.74 more than decided: negative slippage, a gain.
    assert eth["fill_price"] == D("2508.74")
    assert eth["fee"] == D("0.501748")
    assert eth["slippage_bps"] == pytest.approx(-34.96)
    assert eth["impact_bps"] == pytest.approx(0.063246)

    path = tmp_path / "execution_trace.parquet"
    frame.write_parquet(path)
    assert pl.read_parquet(path).equals(frame)
    rig.engine.dispose()


def test_an_empty_trace_has_the_same_columns(database_url: str) -> None:
    rig = make_rig(database_url)
    frame = load_trace(rig.engine, "nothing-here")
    assert frame.height == 0 and frame.schema == pl.Schema(TRACE_SCHEMA)
    rig.engine.dispose()


def test_slippage_is_positive_when_it_costs() -> None:
    assert slippage_bps(Side.BUY, D(101), D(100)) == pytest.approx(100.0)
    assert slippage_bps(Side.SELL, D(99), D(100)) == pytest.approx(100.0)
    assert slippage_bps(Side.SELL, D(101), D(100)) == pytest.approx(-100.0)
