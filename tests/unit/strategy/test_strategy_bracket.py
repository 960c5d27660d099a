from decimal import Decimal

import pytest
from strategy_streams import bar, feed_bars, ohlc_walk, random_walk, run

from quantgate.core import Bar, Fill, Side
from quantgate.strategy import BracketMomentumConfig, BracketMomentumStrategy

S = "BTCUSDT"


def config(**overrides: object) -> BracketMomentumConfig:
    values: dict[str, object] = {
        "lookback": 2,
        "entry_threshold": 0.03,
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.04,
        "cooldown_bars": 1,
    }
    values.update(overrides)
    return BracketMomentumConfig(**values)


def entry_bars(last_low: float = 104.0) -> list[Bar]:
    # Lookback-2 return on bar 2 is 104/100 − 1 = 4% > 3%: long at 104,
    # stop 104·0.98 = 101.92, target 104·1.04 = 108.16.
    return [
        bar(S, 0, 100.0),
        bar(S, 1, 100.0),
        bar(S, 2, 104.0, open_=100.0, high=104.0, low=last_low),
    ]


def fill(side: Side, price: str, quantity: str = "1") -> Fill:
    return Fill(
        "t", "c", S, side, Decimal(quantity), Decimal(price), Decimal(0), entry_bars()[2].ts
    )


def test_entry_carries_its_bracket() -> None:
    strategy = BracketMomentumStrategy(config())
    signals = feed_bars(strategy, entry_bars())
    assert len(signals) == 1
    entry = signals[0]
    assert entry.target_exposure == 1.0
    assert entry.stop_price == pytest.approx(101.92)
    assert entry.target_price == pytest.approx(108.16)
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert (bracket.entry_price, bracket.peak, bracket.trough) == (104.0, 104.0, 104.0)


def test_stop_loss_is_hit_on_the_right_bar() -> None:
    bars = [
        *entry_bars(),
        bar(S, 3, 104.5, open_=104.0, high=105.0, low=103.0),  # inside the bracket
        bar(S, 4, 102.0, open_=104.5, high=104.6, low=101.5),  # low 101.5 ≤ 101.92
        bar(S, 5, 101.0, open_=102.0, high=102.0, low=100.0),
    ]
    signals = feed_bars(BracketMomentumStrategy(config()), bars)
    assert [(s.asof, s.target_exposure) for s in signals] == [
        (bars[2].available_at, 1.0),
        (bars[4].available_at, 0.0),
    ]
    assert signals[1].reason.startswith("stop_loss 101.92 hit")


def test_the_entry_bar_itself_never_stops_out() -> None:
    bars = [*entry_bars(last_low=100.0), bar(S, 3, 104.0, open_=104.0, high=104.5, low=103.5)]
    signals = feed_bars(BracketMomentumStrategy(config()), bars)
    assert [s.target_exposure for s in signals] == [1.0]


def test_take_profit() -> None:
    bars = [*entry_bars(), bar(S, 3, 108.0, open_=104.0, high=108.5, low=103.9)]
    signals = feed_bars(BracketMomentumStrategy(config()), bars)
    assert [s.target_exposure for s in signals] == [1.0, 0.0]
    assert signals[1].reason.startswith("take_profit 108.16 hit")


def test_a_bar_touching_both_levels_counts_as_a_stop() -> None:
    bars = [*entry_bars(), bar(S, 3, 105.0, open_=104.0, high=109.0, low=101.0)]
    signals = feed_bars(BracketMomentumStrategy(config()), bars)
    assert signals[1].reason.startswith("stop_loss")


def test_trailing_stop_follows_the_peak_from_the_next_bar_on() -> None:
    strategy = BracketMomentumStrategy(config(take_profit_pct=0.5, trailing_stop_pct=0.03))
    bars = [
        *entry_bars(),
        # High 110 lifts the trail to 106.7 only *after* this bar: its low of 106 is no exit.
        bar(S, 3, 109.0, open_=104.0, high=110.0, low=106.0),
        bar(S, 4, 108.0, open_=109.0, high=109.5, low=107.0),
        bar(S, 5, 107.0, open_=108.0, high=108.0, low=106.5),  # 106.5 ≤ 106.7
    ]
    signals = feed_bars(strategy, bars[:5])
    assert [s.target_exposure for s in signals] == [1.0]
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert bracket.peak == 110.0
    assert bracket.stop == pytest.approx(106.7)
    assert bracket.trailed
    exit_signal = strategy.on_bar(bars[5])
    assert [s.target_exposure for s in exit_signal] == [0.0]
    assert exit_signal[0].reason.startswith("trailing_stop 106.7 hit")


def test_short_bracket_mirrors_the_long_one() -> None:
    bars = [
        bar(S, 0, 100.0),
        bar(S, 1, 100.0),
        bar(S, 2, 96.0, open_=100.0),  # −4%: short at 96, stop 97.92, target 92.16
        bar(S, 3, 97.0, open_=96.0, high=98.0, low=96.0),
    ]
    signals = feed_bars(BracketMomentumStrategy(config()), bars)
    assert [s.target_exposure for s in signals] == [-1.0, 0.0]
    assert signals[0].stop_price == pytest.approx(97.92)
    assert signals[0].target_price == pytest.approx(92.16)
    assert signals[1].reason.startswith("stop_loss 97.92 hit (high 98")


def test_cooldown_delays_re_entry() -> None:
    tail = [
        bar(S, 3, 104.5, open_=104.0, high=105.0, low=103.0),
        bar(S, 4, 102.0, open_=104.5, high=104.6, low=101.5),  # stopped out
        bar(S, 5, 108.0, open_=102.0, high=108.0, low=102.0),  # +3.3% over 2 bars
        bar(S, 6, 110.0, open_=108.0, high=110.0, low=108.0),  # +7.8%
        bar(S, 7, 114.0, open_=110.0, high=114.0, low=110.0),  # +5.6%
    ]
    bars = [*entry_bars(), *tail]
    quick = feed_bars(BracketMomentumStrategy(config(cooldown_bars=0)), bars)
    patient = feed_bars(BracketMomentumStrategy(config(cooldown_bars=2)), bars)
    assert [s.asof for s in quick][2] == bars[5].available_at
    assert [s.asof for s in patient][2] == bars[7].available_at


def test_time_stop() -> None:
    bars = [
        *entry_bars(),
        bar(S, 3, 104.0, open_=104.0, high=104.5, low=103.5),
        bar(S, 4, 104.0, open_=104.0, high=104.5, low=103.5),
    ]
    signals = feed_bars(BracketMomentumStrategy(config(max_holding_bars=2)), bars)
    assert [(s.asof, s.target_exposure) for s in signals][1] == (bars[4].available_at, 0.0)
    assert signals[1].reason == "time_stop after 2 bars"


def test_the_fill_price_re_anchors_the_bracket() -> None:
    strategy = BracketMomentumStrategy(config())
    feed_bars(strategy, entry_bars())
    strategy.on_fill(fill(Side.BUY, "105"))
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert bracket.entry_price == 105.0
    assert bracket.stop == pytest.approx(102.9)
    assert bracket.target == pytest.approx(109.2)
    # A low of 102.5 would not touch the decision-price stop (101.92), but does touch 102.9.
    signals = strategy.on_bar(bar(S, 3, 103.0, open_=105.0, high=105.0, low=102.5))
    assert [s.target_exposure for s in signals] == [0.0]


def test_partial_fills_anchor_at_their_average_and_opposite_fills_are_ignored() -> None:
    strategy = BracketMomentumStrategy(config())
    feed_bars(strategy, entry_bars())
    strategy.on_fill(fill(Side.BUY, "104", "1"))
    strategy.on_fill(fill(Side.BUY, "106", "3"))
    strategy.on_fill(fill(Side.SELL, "90", "5"))
    bracket = strategy.open_bracket(S)
    assert bracket is not None
    assert bracket.entry_price == pytest.approx(105.5)


def test_window_is_bounded() -> None:
    strategy = BracketMomentumStrategy(config(lookback=20))
    run(strategy, ohlc_walk(S, random_walk(10_000, 5), 6))
    closes = strategy._symbols[S].closes
    assert closes.maxlen == 21
    assert len(closes) == 21
