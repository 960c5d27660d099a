"""Audit of the bracket's bookkeeping around its entry fill (see test_strategy_bracket for
the basics): the levels of a bracket follow from what happened while it held a position."""

from decimal import Decimal

import pytest
from strategy_streams import bar, feed_bars

from quantgate.core import Bar, Fill, Side
from quantgate.strategy import BracketMomentumConfig, BracketMomentumStrategy

S = "BTCUSDT"


def config(**overrides: object) -> BracketMomentumConfig:
    values: dict[str, object] = {
        "lookback": 2,
        "entry_threshold": 0.03,
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.5,
        "trailing_stop_pct": 0.03,
        "cooldown_bars": 1,
    }
    values.update(overrides)
    return BracketMomentumConfig(**values)


def entry_bars(close: float = 104.0) -> list[Bar]:
    # Lookback-2 return on bar 2 is beyond 3 %: a long (close 104) or a short (close 96).
    return [bar(S, 0, 100.0), bar(S, 1, 100.0), bar(S, 2, close, open_=100.0)]


def fill(side: Side, price: str, at: Bar, quantity: str = "1") -> Fill:
    return Fill("t", "c", S, side, Decimal(quantity), Decimal(price), Decimal(0), at.ts)


def test_bars_before_a_late_first_fill_do_not_trail_the_long_stop() -> None:
    """The entry did not fill in bar 3 (a passive slice resting, say) but at bar 4's open.
    Bar 3's high of 110 was never the position's peak: trailing 3 % behind it would put
    the stop at 106.7, above the 104 paid, and bar 4 would 'stop out' a fresh trade."""
    strategy = BracketMomentumStrategy(config())
    bars = [
        *entry_bars(),
        bar(S, 3, 105.0, open_=104.0, high=110.0, low=103.0),  # no fill yet
        bar(S, 4, 104.5, open_=104.0, high=105.0, low=103.5),
    ]
    assert [s.target_exposure for s in feed_bars(strategy, bars[:4])] == [1.0]
    strategy.on_fill(fill(Side.BUY, "104", bars[4]))
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert (bracket.entry_price, bracket.peak, bracket.trough) == (104.0, 104.0, 104.0)
    assert bracket.stop == pytest.approx(104.0 * 0.98)  # the fixed stop, not a trail
    assert not bracket.trailed
    assert strategy.on_bar(bars[4]) == []


def test_bars_before_a_late_first_fill_do_not_trail_the_short_stop() -> None:
    strategy = BracketMomentumStrategy(config())
    bars = [
        *entry_bars(96.0),
        bar(S, 3, 95.0, open_=96.0, high=97.0, low=90.0),  # no fill yet
        bar(S, 4, 95.5, open_=96.0, high=96.5, low=95.0),
    ]
    assert [s.target_exposure for s in feed_bars(strategy, bars[:4])] == [-1.0]
    strategy.on_fill(fill(Side.SELL, "96", bars[4]))
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert (bracket.entry_price, bracket.peak, bracket.trough) == (96.0, 96.0, 96.0)
    assert bracket.stop == pytest.approx(96.0 * 1.02)
    assert strategy.on_bar(bars[4]) == []


def test_a_later_partial_fill_still_keeps_the_peak_seen_while_holding() -> None:
    """After the first fill the peak is the position's: a second slice does not reset it."""
    strategy = BracketMomentumStrategy(config())
    bars = [*entry_bars(), bar(S, 3, 108.0, open_=104.0, high=109.0, low=104.0)]
    feed_bars(strategy, bars[:3])
    strategy.on_fill(fill(Side.BUY, "104", bars[3]))
    assert strategy.on_bar(bars[3]) == []
    strategy.on_fill(fill(Side.BUY, "108", bars[3]))
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert bracket.entry_price == pytest.approx(106.0)
    assert bracket.peak == 109.0
    assert bracket.stop == pytest.approx(109.0 * 0.97)
