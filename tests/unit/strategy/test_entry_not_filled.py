"""A strategy told that its entry ended with nothing filled (`on_order_ended`) stops
protecting a position it does not hold: the bracket withdraws its entry, the pair closes
the leg that did fill. Before, a bracket kept managing the levels of an entry the risk gate
had denied (and a later re-sizing could buy the position unprotected), and a pair whose
second leg was denied held the first one naked."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from strategy_streams import bar, bars_from_closes, cointegrated_closes, feed_bars

from quantgate.core import Bar, Fill, OrderEnded, Side
from quantgate.strategy import (
    BracketMomentumConfig,
    BracketMomentumStrategy,
    PairsConfig,
    PairsTradingStrategy,
)

S = "BTCUSDT"


def ended(
    symbol: str, side: Side, at: datetime, reason: str = "denied: price_collar"
) -> OrderEnded:
    return OrderEnded("c-1", symbol, side, Decimal("2.5"), reason, at)


def fill(symbol: str, side: Side, at: datetime, price: str = "104") -> Fill:
    return Fill("t-1", "c-1", symbol, side, Decimal("1"), Decimal(price), Decimal(0), at)


# -- bracket --------------------------------------------------------------------------------------


def bracket(**overrides: object) -> BracketMomentumStrategy:
    values: dict[str, object] = {
        "lookback": 2,
        "entry_threshold": 0.03,
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.5,
        "cooldown_bars": 2,
    }
    values.update(overrides)
    return BracketMomentumStrategy(BracketMomentumConfig(**values))


def rising(count: int) -> list[Bar]:
    """Bars 0-1 at 100, then +4 % a bar: every bar from 2 on is an entry signal."""
    closes = [100.0, 100.0] + [100.0 * 1.04 ** (i - 1) for i in range(2, count)]
    return [bar(S, i, close) for i, close in enumerate(closes)]


def test_a_bracket_whose_entry_never_filled_withdraws_it_at_the_next_bar() -> None:
    strategy = bracket()
    bars = rising(8)
    assert [s.target_exposure for s in feed_bars(strategy, bars[:3])] == [1.0]
    strategy.on_order_ended(ended(S, Side.BUY, bars[2].available_at))
    withdrawn = strategy.on_bar(bars[3])
    assert [(s.target_exposure, s.reason) for s in withdrawn] == [
        (0.0, "entry not filled (denied: price_collar)")
    ]
    assert strategy.open_bracket(S) is None
    # The cooldown (2 bars) holds before the still-rising market is entered again.
    assert strategy.on_bar(bars[4]) == [] and strategy.on_bar(bars[5]) == []
    assert [s.target_exposure for s in strategy.on_bar(bars[6])] == [1.0]


def test_a_partly_filled_entry_keeps_its_bracket() -> None:
    strategy = bracket()
    bars = rising(5)
    feed_bars(strategy, bars[:3])
    strategy.on_fill(fill(S, Side.BUY, bars[3].ts))
    strategy.on_order_ended(ended(S, Side.BUY, bars[3].ts, "cancelled"))
    assert strategy.on_bar(bars[3]) == []
    held = strategy.open_bracket(S)
    assert held is not None and held.entry_missed is None and held.filled_quantity == 1.0


def test_an_unfilled_order_against_the_bracket_does_not_withdraw_it() -> None:
    # A sell that ended unfilled is no part of a long entry (a re-sizing, an earlier exit).
    strategy = bracket()
    bars = rising(5)
    feed_bars(strategy, bars[:3])
    strategy.on_order_ended(ended(S, Side.SELL, bars[2].available_at))
    assert strategy.on_bar(bars[3]) == []
    assert strategy.open_bracket(S) is not None


def test_a_missed_entry_survives_a_restart() -> None:
    strategy = bracket()
    bars = rising(5)
    feed_bars(strategy, bars[:3])
    strategy.on_order_ended(ended(S, Side.BUY, bars[2].available_at, "expired"))
    restored = bracket()
    restored.restore(strategy.checkpoint())
    assert [s.reason for s in restored.on_bar(bars[3])] == ["entry not filled (expired)"]


def test_an_old_bracket_checkpoint_is_refused() -> None:
    strategy = bracket()
    feed_bars(strategy, rising(3))
    with pytest.raises(Exception, match="state version 1 is not 2"):
        bracket().restore({**strategy.checkpoint(), "state_version": 1})


# -- pairs ----------------------------------------------------------------------------------------


def pairs() -> PairsTradingStrategy:
    return PairsTradingStrategy(PairsConfig(pairs=(("A", "B"),), window=120))


def open_pair(strategy: PairsTradingStrategy) -> tuple[list[Bar], list[Bar]]:
    """Feed both legs until the pair opens; returns the bars of each leg after that."""
    closes_a, closes_b = cointegrated_closes(1_200, seed=3)
    bars_a, bars_b = bars_from_closes("A", closes_a), bars_from_closes("B", closes_b)
    for index, (bar_a, bar_b) in enumerate(zip(bars_a, bars_b, strict=True)):
        strategy.on_bar(bar_a)
        strategy.on_bar(bar_b)
        if strategy.open_pair("A", "B") is not None:
            return bars_a[index + 1 :], bars_b[index + 1 :]
    raise AssertionError("the pair never opened")


def entry_sides(strategy: PairsTradingStrategy) -> tuple[Side, Side]:
    opened = strategy.open_pair("A", "B")
    assert opened is not None
    return tuple(Side.BUY if opened.leg_side(i) > 0 else Side.SELL for i in (0, 1))  # type: ignore[return-value]


def test_a_pair_whose_second_leg_never_filled_closes_the_first() -> None:
    strategy = pairs()
    later_a, later_b = open_pair(strategy)
    side_a, side_b = entry_sides(strategy)
    opened = strategy.open_pair("A", "B")
    assert opened is not None
    strategy.on_fill(fill("A", side_a, later_a[0].ts))
    strategy.on_order_ended(ended("B", side_b, later_a[0].ts, "denied: max_position_symbol"))
    exits = strategy.on_bar(later_a[0])
    assert sorted((s.symbol, s.target_exposure) for s in exits) == [("A", 0.0), ("B", 0.0)]
    assert {s.reason for s in exits} == {"B entry not filled (denied: max_position_symbol)"}
    assert strategy.open_pair("A", "B") is None
    # Not re-opened the same way on the next bars while the spread is still wide.
    following = [
        s
        for a, b in zip(later_a[1:40], later_b[1:40], strict=True)
        for s in (*strategy.on_bar(a), *strategy.on_bar(b))
    ]
    assert all(
        s.target_exposure == 0.0 or (s.target_exposure > 0) != (side_a is Side.BUY)
        for s in following
        if s.symbol == "A"
    )


def test_a_leg_that_filled_in_part_keeps_the_pair() -> None:
    strategy = pairs()
    later_a, _ = open_pair(strategy)
    side_a, side_b = entry_sides(strategy)
    strategy.on_fill(fill("A", side_a, later_a[0].ts))
    strategy.on_fill(fill("B", side_b, later_a[0].ts))
    # A leg that filled in part and ended: the pair is held, not closed.
    strategy.on_order_ended(ended("B", side_b, later_a[0].ts, "cancelled"))
    assert strategy.on_bar(later_a[0]) == []
    assert strategy.open_pair("A", "B") is not None


def test_a_missed_leg_survives_a_restart() -> None:
    strategy = pairs()
    later_a, _ = open_pair(strategy)
    side_a, _side_b = entry_sides(strategy)
    strategy.on_order_ended(ended("A", side_a, later_a[0].ts, "rejected"))
    restored = pairs()
    restored.restore(strategy.checkpoint())
    assert {s.reason for s in restored.on_bar(later_a[0])} == {"A entry not filled (rejected)"}
