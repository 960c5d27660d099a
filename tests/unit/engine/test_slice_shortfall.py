"""A long-horizon plan carries what a slice missed to the slices after it: a passive
slice that expired unfilled, or an IOC slice held to the participation cap, no longer
leaves the plan short of its target (it ended ~80 % of the way in an audit run)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from engine_builders import MOMENTUM_1D, bars, config, frame, run

# AAA enters at bar 4's close (110): 10,000 × 0.5 / 110 = 45.454 after the lot. Six
# passive slices (one an hour, each resting at 109.94 until the next is due) meet bars
# 5..10; the closes stay at 110, and only bars 8, 9 and 10 open down at 109.
CLOSES = [100.0] * 4 + [110.0] * 16
OPENS = [100.0] * 4 + [100.0, 110.0, 110.0, 110.0, 109.0, 109.0, 109.0] + [110.0] * 9
TARGET = Decimal("45.454")


def _sent(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path / "engine.db") as db:
        rows = db.execute(
            "select quantity, filled_quantity from orders where symbol = 'AAA' order by created_at"
        ).fetchall()
    return [(str(Decimal(str(q))), str(Decimal(str(f)))) for q, f in rows]


def _passive(tmp_path: Path, carry: bool) -> tuple[dict[str, str], list[tuple[str, str]]]:
    backtest = config(
        ["AAA"],
        params=MOMENTUM_1D,
        long_horizon={"style": "passive", "slices": 6, "carry_shortfall": carry},
    )
    result = run(tmp_path, frame(bars("AAA", CLOSES, opens=OPENS)), backtest)
    return result.metrics["positions"], _sent(result.path)


def test_passive_slices_that_expired_unfilled_are_made_up_by_the_later_ones(
    tmp_path: Path,
) -> None:
    positions, sent = _passive(tmp_path / "carry", carry=True)
    assert Decimal(positions["AAA"]) == TARGET
    quantities = [Decimal(q) for q, _ in sent]
    # Each slice, when due, takes its share of all that is still to trade: the first
    # three rest unfilled, each leaving its miss to the rest (45.454 over 6, 5, 4 slices
    # up to the lot); the fourth takes a third of all of it and the last two the rest.
    assert quantities == [Decimal(q) for q in ("7.576", "9.091", "11.364")] + [
        Decimal("15.152"),
        Decimal("15.151"),
        Decimal("15.151"),
    ]
    assert [Decimal(f) for _, f in sent] == [0, 0, 0, *quantities[3:]]
    assert sum(quantities[3:]) == TARGET


def test_without_carry_the_plan_ends_short_by_the_missed_slices(tmp_path: Path) -> None:
    positions, sent = _passive(tmp_path / "plain", carry=False)
    quantities = [Decimal(q) for q, _ in sent]
    assert quantities == [Decimal("7.576")] * 4 + [Decimal("7.575")] * 2
    assert Decimal(positions["AAA"]) == Decimal("7.576") + 2 * Decimal("7.575")


@pytest.mark.parametrize("carry", [True, False])
def test_twap_slices_held_to_the_participation_cap_pass_the_rest_on(
    tmp_path: Path, carry: bool
) -> None:
    # The first three slices meet bars of 30 units: at a 10 % cap each fills 3 of its
    # 7.576 or more; the later slices, on ample bars, make up for them.
    thin = bars("AAA", CLOSES)
    for row in thin[5:8]:
        row["volume"] = 30.0
    backtest = config(
        ["AAA"],
        params=MOMENTUM_1D,
        long_horizon={"style": "twap", "slices": 6, "carry_shortfall": carry},
        broker={"participation_cap": 0.1},
    )
    result = run(tmp_path, frame(thin), backtest)
    sent = _sent(result.path)
    filled = [Decimal(f) for _, f in sent]
    assert filled[:3] == [Decimal(3)] * 3
    if carry:
        assert Decimal(result.metrics["positions"]["AAA"]) == sum(filled) == TARGET
        assert result.metrics["engine"]["slices_resized"] == 5  # every slice after the first
    else:  # three planned slices filled whole, three missed 4.576 or 4.575 each
        assert sum(filled) == Decimal(9) + Decimal("7.576") + 2 * Decimal("7.575")
