"""A signal caused by bar t is never filled with bar t's prices: market orders fill at the
open of the symbol's next bar (whenever it comes), marketable limits never look back."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import polars as pl
from engine_builders import HOUR, PUBLICATION, START, bars, config, frame, run

D = Decimal
CLOSES = [100, 100, 100, 110, 112, 113, 105, 100, 100]
# Opens differ from every neighbouring close, so a price tells which bar it came from.
OPENS = [100, 100, 100, 101, 111, 112.5, 113.5, 104, 100.5]


def test_signal_on_bar_t_fills_at_the_open_of_bar_t_plus_1(tmp_path: Path) -> None:
    result = run(tmp_path, frame(bars("AAA", CLOSES, opens=OPENS)), config(["AAA"]))
    trades = result.trades.sort("filled_at")
    assert trades["side"].to_list() == ["buy", "sell"]
    buy, sell = trades.row(0, named=True), trades.row(1, named=True)
    # Bar 3 (close 110) signals: decided when bar 3 is known, filled at bar 4's open (111),
    # not at bar 3's open (101) or close (110).
    assert buy["decision_time"] == START + 3 * HOUR + HOUR + PUBLICATION
    assert buy["decision_price"] == D(110)
    assert buy["price"] == D(111)
    assert buy["filled_at"] >= START + 4 * HOUR  # inside bar 4, after its open
    # Bar 6 (close 105) exits; the sell trades at bar 7's open (104).
    assert sell["decision_time"] == START + 6 * HOUR + HOUR + PUBLICATION
    assert sell["price"] == D(104)


def test_a_missing_next_bar_means_the_first_later_bar_open(tmp_path: Path) -> None:
    bar_frame = frame(bars("AAA", CLOSES, opens=OPENS, skip=(4,)))
    result = run(tmp_path, bar_frame, config(["AAA"]))
    first = result.trades.sort("filled_at").row(0, named=True)
    assert first["decision_time"] == START + 4 * HOUR + PUBLICATION  # still bar 3's signal
    assert first["price"] == D("112.5")  # bar 5's open
    assert first["filled_at"] == START + 5 * HOUR


def test_marketable_limit_does_not_chase_a_gap(tmp_path: Path) -> None:
    """The default short-horizon policy bounds the buy at 110 × (1 + 50 bps) = 110.55; bar 4
    opens at 111 and never trades that low, so nothing fills — bar 3's prices (which were
    inside the bound) are never used."""
    backtest = config(["AAA"], short_horizon={"order_type": "limit", "follow_ups": 0})
    result = run(tmp_path / "once", frame(bars("AAA", CLOSES, opens=OPENS)), backtest)
    assert result.trades.is_empty()
    assert result.metrics["engine"]["submits"] == {"sent": 1}
    assert Decimal(result.metrics["final_equity"]) == D(10_000)
    # Followed up (the default), the plan tries bars 5 and 6 at the same bound (their opens
    # of 112.5 and 113.5 are beyond it too) and stops at bar 6's exit: nothing chased.
    backtest = config(["AAA"], short_horizon={"order_type": "limit"})
    result = run(tmp_path / "again", frame(bars("AAA", CLOSES, opens=OPENS)), backtest)
    assert result.trades.is_empty()
    assert result.metrics["engine"]["submits"] == {"sent": 3}
    assert result.metrics["engine"]["follow_ups"] == 2


def test_every_fill_of_a_random_run_is_the_next_bar_open(tmp_path: Path) -> None:
    rng = random.Random(5)
    groups = []
    for symbol in ("AAA", "BBB", "CCC"):
        price, closes, opens = 100.0, [], []
        for _ in range(400):
            opens.append(round(price * (1 + rng.gauss(0, 0.002)), 2))
            price = round(price * (1 + rng.gauss(0, 0.02)), 2)
            closes.append(price)
        groups.append(bars(symbol, closes, opens=opens, skip=tuple(rng.sample(range(400), 20))))
    bar_frame = frame(*groups)
    backtest = config(["AAA", "BBB", "CCC"], params={"lookback": 3, "entry_threshold": 0.03})
    result = run(tmp_path, bar_frame, backtest)
    assert result.trades.height > 20
    for trade in result.trades.iter_rows(named=True):
        later = bar_frame.filter(
            (pl.col("symbol") == trade["symbol"])
            & (pl.col("available_at") > trade["decision_time"])
        ).sort("ts")
        next_bar = later.row(0, named=True)
        assert trade["price"] == Decimal(repr(next_bar["open"])), trade
        # The decision bar is the last one known at decision time; it is never the fill bar.
        assert next_bar["ts"] + HOUR + PUBLICATION > trade["decision_time"]
