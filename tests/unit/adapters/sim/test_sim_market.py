"""Hourly and 1-minute bars: determinism, prefix stability, consistency, planted effects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.adapters.sim.processes import garch_unit_variance
from quantgate.core import Bar, DataError
from quantgate.data.schema import BAR_SCHEMA

START = datetime(2018, 1, 1, tzinfo=UTC)
END = datetime(2018, 7, 1, tzinfo=UTC)
CONFIG = SyntheticMarketConfig(end=END)


@pytest.fixture(scope="module")
def source() -> SyntheticMarketSource:
    return SyntheticMarketSource(CONFIG)


def test_frames_conform_to_the_bar_schema(source: SyntheticMarketSource) -> None:
    frame = source.fetch_bars("BTCUSDT", START, END)
    assert frame.schema == pl.Schema(BAR_SCHEMA)
    assert len(frame) == 181 * 24
    assert frame["source"].unique().to_list() == ["synthetic"]
    assert frame["ts"].is_sorted()
    assert (frame["available_at"] == frame["ts"] + timedelta(hours=1, seconds=5)).all()
    assert (frame["fetched_at"] == frame["available_at"]).all()


def test_same_seed_gives_identical_bars_and_another_seed_does_not() -> None:
    config = SyntheticMarketConfig(end=datetime(2018, 2, 1, tzinfo=UTC), symbols=("ETHUSDT",))
    first = SyntheticMarketSource(config).fetch_bars("ETHUSDT", START, config.resolved_end)
    # A separate world (not the shared cached one) must regenerate the same values.
    from quantgate.adapters.sim.world import SyntheticWorld

    again = SyntheticWorld(config).bars("ETHUSDT", START, config.resolved_end, "1h")
    assert first.equals(again)
    other = SyntheticMarketSource(config.model_copy(update={"seed": 8}))
    assert not first["close"].equals(
        other.fetch_bars("ETHUSDT", START, config.resolved_end)["close"]
    )


def test_a_sub_range_returns_exactly_the_rows_of_the_full_range(
    source: SyntheticMarketSource,
) -> None:
    full = source.fetch_bars("ADAUSDT", START, END)
    a, b = datetime(2018, 5, 3, 7, tzinfo=UTC), datetime(2018, 6, 2, 13, tzinfo=UTC)
    part = source.fetch_bars("ADAUSDT", a, b)
    assert part.equals(full.filter((pl.col("ts") >= a) & (pl.col("ts") < b)))


def test_a_different_end_gives_identical_overlapping_bars(source: SyntheticMarketSource) -> None:
    # Ends inside a chunk, in another chunk, and years later: the overlap never moves.
    for end in (datetime(2018, 2, 10, 5, tzinfo=UTC), datetime(2019, 3, 1, tzinfo=UTC)):
        other = SyntheticMarketSource(CONFIG.model_copy(update={"end": end}))
        for symbol in ("BTCUSDT", "XRPUSDT", "DOGEUSDT"):
            mine = source.fetch_bars(symbol, START, END)
            theirs = other.fetch_bars(symbol, START, END)
            overlap = min(len(mine), len(theirs))
            assert mine.head(overlap).equals(theirs.head(overlap))
    # The same holds for minute bars.
    later = SyntheticMarketSource(
        CONFIG.model_copy(update={"end": datetime(2019, 1, 1, tzinfo=UTC)})
    )
    a, b = datetime(2018, 6, 30, 21, tzinfo=UTC), END
    assert source.fetch_bars("ETHUSDT", a, b, "1m").equals(later.fetch_bars("ETHUSDT", a, b, "1m"))


def test_adding_a_symbol_does_not_change_the_others(source: SyntheticMarketSource) -> None:
    wider = SyntheticMarketSource(
        CONFIG.model_copy(update={"symbols": (*CONFIG.symbols, "LINKUSDT")})
    )
    assert wider.fetch_bars("SOLUSDT", START, END).equals(source.fetch_bars("SOLUSDT", START, END))
    assert wider.fetch_bars("BTCUSDT", START, END).equals(source.fetch_bars("BTCUSDT", START, END))
    assert len(wider.fetch_bars("LINKUSDT", START, END)) == 181 * 24


def test_bars_are_consistent_ohlcv(source: SyntheticMarketSource) -> None:
    for symbol in source.symbols():
        frame = source.fetch_bars(symbol, START, END)
        if frame.is_empty():
            continue
        o, h, lo, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
        assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all()
        assert (lo > 0).all() and (v > 0).all()
        assert (o[1:] == c[:-1]).all()  # each bar opens at the previous close
        bar = Bar(symbol, *frame.row(0)[2:9])
        assert bar.consistency_problems() == []


def test_listing_dates_are_respected(source: SyntheticMarketSource) -> None:
    expected = {
        "BTCUSDT": START,  # listed earlier, clipped to the start
        "BNBUSDT": START,
        "ADAUSDT": datetime(2018, 4, 17, tzinfo=UTC),
        "XRPUSDT": datetime(2018, 5, 4, tzinfo=UTC),
        "SOLUSDT": END,  # lists after the end: an empty span
    }
    for symbol, first in expected.items():
        coverage = source.coverage(symbol)
        assert coverage.start == first and coverage.end == END
        frame = source.fetch_bars(symbol, datetime(2017, 1, 1, tzinfo=UTC), END)
        assert frame.is_empty() if first == END else frame["ts"][0] == first


def test_unknown_symbol_is_a_data_error(source: SyntheticMarketSource) -> None:
    with pytest.raises(DataError):
        source.fetch_bars("NOPEUSDT", START, END)


def test_volume_grows_with_the_size_of_the_move(source: SyntheticMarketSource) -> None:
    frame = source.fetch_bars("ETHUSDT", START, END)
    move = np.abs(np.log(frame["close"] / frame["open"]).to_numpy())
    notional = (frame["volume"] * frame["close"]).to_numpy()
    assert np.corrcoef(move, np.log(notional))[0, 1] > 0.2


def test_volatility_clusters(source: SyntheticMarketSource) -> None:
    close = source.fetch_bars("BTCUSDT", START, END)["close"].to_numpy()
    r = np.abs(np.diff(np.log(close)))
    assert np.corrcoef(r[:-1], r[1:])[0, 1] > 0.05


def test_minute_bars_aggregate_exactly_to_the_hour(source: SyntheticMarketSource) -> None:
    a, b = datetime(2018, 5, 10, tzinfo=UTC), datetime(2018, 5, 11, 6, tzinfo=UTC)
    hourly = source.fetch_bars("XRPUSDT", a, b)
    minutes = source.fetch_bars("XRPUSDT", a, b, "1m")
    assert minutes.schema == pl.Schema(BAR_SCHEMA)
    assert len(minutes) == 60 * len(hourly)
    assert (minutes["available_at"] == minutes["ts"] + timedelta(minutes=1, seconds=5)).all()
    o, h, lo, c = (minutes[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all()
    assert (o[1:] == c[:-1]).all()
    rolled = (
        minutes.group_by(pl.col("ts").dt.truncate("1h"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .sort("ts")
    )
    for column in ("ts", "open", "high", "low", "close"):
        assert rolled[column].equals(hourly[column]), column
    np.testing.assert_allclose(rolled["volume"], hourly["volume"], rtol=1e-12)
    # A window that cuts through hours returns exactly those minutes.
    cut = source.fetch_bars(
        "XRPUSDT", a + timedelta(minutes=17), a + timedelta(hours=2, minutes=3), "1m"
    )
    assert cut.equals(minutes.slice(17, 106))


def test_sentiment_drift_and_reversal_are_in_the_returns() -> None:
    source = SyntheticMarketSource(SyntheticMarketConfig(end=datetime(2019, 1, 1, tzinfo=UTC)))
    from quantgate.core import Horizon

    sentiment_days, shocks, next_hour, next_day = [], [], [], []
    for symbol in ("BTCUSDT", "ETHUSDT", "BNBUSDT", "ADAUSDT"):
        close = source.fetch_bars(symbol, START, source.config.resolved_end)["close"].to_numpy()
        signal = source.planted_signal(symbol, Horizon.H1)
        r = np.log(close[1:] / close[:-1])
        vol = r.std()
        shocks.append(signal["idio_shock"].to_numpy()[:-1] / vol)
        next_hour.append(r / vol)
        s = signal["sentiment"].to_numpy()
        sentiment_days.append(s[:-24])
        next_day.append(np.log(close[24:] / close[:-24]) / vol)
    # Reversal: the next hour moves against the last idiosyncratic shock.
    assert np.corrcoef(np.concatenate(shocks), np.concatenate(next_hour))[0, 1] < -0.03
    # Drift: sentiment known now predicts the next day's return.
    assert np.corrcoef(np.concatenate(sentiment_days), np.concatenate(next_day))[0, 1] > 0.08


def test_garch_closed_form_matches_the_recursion() -> None:
    shocks = np.random.default_rng(3).standard_normal(720)
    variances, after = garch_unit_variance(shocks, 1.7, 0.08, 0.9)
    expected = [1.7]
    for z in shocks:
        expected.append(0.02 + (0.08 * z * z + 0.9) * expected[-1])
    np.testing.assert_allclose(variances, expected[:-1], rtol=1e-10)
    assert after == pytest.approx(expected[-1], rel=1e-10)
