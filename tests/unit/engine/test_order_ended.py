"""The engine tells a strategy (`on_order_ended`) when an order it caused ended with part of
it unfilled and its symbol has nothing more planned or working: the plan is over, short of
its target. An order whose rest a follow-up, a later slice or a new decision carries on is
not an end, and a strategy that caused nothing hears nothing.

Momentum (lookback 2, long only) enters AAA at bar 4's close (110) for 45.454."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_builders import HOUR, MOMENTUM_1D, PUBLICATION, START, bars, config, frame, run

from quantgate.core import OrderEnded, Side
from quantgate.strategy.momentum import MomentumStrategy

D = Decimal
ENTRY = [100.0] * 4 + [110.0] * 16
TARGET = D("45.454")


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, OrderEnded]]]:
    heard: list[tuple[str, OrderEnded]] = []

    def record(self: MomentumStrategy, ended: OrderEnded) -> None:
        heard.append((self.name, ended))

    monkeypatch.setattr(MomentumStrategy, "on_order_ended", record)
    yield heard


def _ends(told: list[tuple[str, OrderEnded]]) -> list[tuple[str, str, Side, Decimal, str]]:
    return [(name, e.symbol, e.side, e.unfilled, e.reason) for name, e in told]


def _capped(**short: Any) -> Any:
    return config(
        ["AAA"],
        broker={"participation_cap": 0.1},
        short_horizon={"order_type": "market", **short},
    )


def test_an_ioc_cut_short_with_no_follow_up_is_told(
    tmp_path: Path, told: list[tuple[str, OrderEnded]]
) -> None:
    # Bars of 200 under a 10 % cap: 20 of 45.454 fill, the rest is cancelled.
    result = run(tmp_path, frame(bars("AAA", ENTRY, volume=200.0)), _capped(follow_ups=0))
    assert _ends(told) == [("momentum", "AAA", Side.BUY, D("25.454"), "cancelled")]
    assert result.metrics["engine"]["orders_ended_short"] == 1
    # Sent at bar 4's close, met by bar 5, its cancel reconciled when bar 5 is known.
    assert told[0][1].ended_at == START + 6 * HOUR + PUBLICATION


@pytest.mark.parametrize(("follow_ups", "expected"), [(1, [D("5.454")]), (3, [])])
def test_follow_ups_carry_the_rest_and_only_the_last_short_one_is_told(
    tmp_path: Path, told: list[tuple[str, OrderEnded]], follow_ups: int, expected: list[Decimal]
) -> None:
    run(tmp_path, frame(bars("AAA", ENTRY, volume=200.0)), _capped(follow_ups=follow_ups))
    assert [e.unfilled for _, e in told] == expected


def test_a_plan_replaced_by_a_later_decision_is_not_told(
    tmp_path: Path, told: list[tuple[str, OrderEnded]]
) -> None:
    # Bar 5 closes at 99: the exit is decided in the event that reports the entry's 20.
    closes = [100.0] * 4 + [110.0, 99.0] + [99.0] * 8
    result = run(tmp_path, frame(bars("AAA", closes, volume=200.0)), _capped())
    assert result.trades["side"].to_list() == ["buy", "sell"]
    assert told == []


def test_a_denied_entry_is_told_with_the_gates_reason(
    tmp_path: Path, told: list[tuple[str, OrderEnded]]
) -> None:
    backtest = config(["AAA"], risk={"max_order_notional": "1000"})
    result = run(tmp_path, frame(bars("AAA", ENTRY)), backtest)
    assert result.metrics["engine"]["denials"] == {"max_order_notional": 1}
    assert _ends(told) == [
        ("momentum", "AAA", Side.BUY, TARGET, "denied: max_order_notional"),
    ]
    assert result.trades.height == 0


def test_a_passive_plan_whose_last_slice_expired_is_told_once(
    tmp_path: Path, told: list[tuple[str, OrderEnded]]
) -> None:
    # Six passive slices rest at 109.94 under bars that never trade below 110: each expires
    # unfilled, passing its quantity on (carry_shortfall), until the last has it all.
    backtest = config(["AAA"], params=MOMENTUM_1D, long_horizon={"style": "passive", "slices": 6})
    result = run(tmp_path, frame(bars("AAA", ENTRY, opens=ENTRY)), backtest)
    assert result.trades.height == 0
    assert _ends(told) == [("momentum", "AAA", Side.BUY, TARGET, "expired")]
