"""Market and freshness features against direct computations on a hand-made bar series."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from quantgate.features import FeaturesConfig
from quantgate.features.blocks.calendar import CalendarUnit
from quantgate.features.blocks.market import FreshnessUnit, MarketUnit
from quantgate.features.series import HOUR_US, NONE_TIME, BarSeries, TextSeries, build_grid
from quantgate.features.units import AsofContext

T0 = int(datetime(2022, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000  # a midnight
N = 24 * 40


def series(drop: tuple[int, ...] = ()) -> BarSeries:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.003, N)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.003, N)))
    volume = np.exp(rng.normal(5, 0.3, N))
    ts = T0 + np.arange(N, dtype=np.int64) * HOUR_US
    keep = np.ones(N, dtype=bool)
    keep[list(drop)] = False
    return BarSeries(
        "TESTUSDT",
        "test",
        ts[keep],
        ts[keep] + HOUR_US + 5_000_000,
        open_[keep],
        high[keep],
        low[keep],
        close[keep],
        volume[keep],
    )


@pytest.fixture(scope="module")
def computed() -> tuple[BarSeries, dict[str, np.ndarray]]:
    bars = series()
    grid = build_grid(bars, None, 3)
    return bars, MarketUnit(FeaturesConfig()).compute(grid)


def test_every_declared_column_is_computed(
    computed: tuple[BarSeries, dict[str, np.ndarray]],
) -> None:
    _, values = computed
    assert set(values) == set(MarketUnit(FeaturesConfig()).columns())
    assert all(v.shape == (N,) for v in values.values())


def test_returns_and_volatility(computed: tuple[BarSeries, dict[str, np.ndarray]]) -> None:
    bars, values = computed
    lc, lh, ll, lo = (np.log(getattr(bars, k)) for k in ("close", "high", "low", "open"))
    i = 700
    assert values["mkt_ret_24h"][i] == pytest.approx(lc[i] - lc[i - 24], rel=1e-12)
    assert values["mkt_ret_1h"][i] == pytest.approx(lc[i] - lc[i - 1], rel=1e-12)
    window = slice(i - 23, i + 1)
    parkinson = math.sqrt(np.mean((lh[window] - ll[window]) ** 2) / (4 * math.log(2)))
    assert values["mkt_vol_pk_24h"][i] == pytest.approx(parkinson, rel=1e-10)
    gk = np.mean(
        0.5 * (lh[window] - ll[window]) ** 2
        - (2 * math.log(2) - 1) * (lc[window] - lo[window]) ** 2
    )
    assert values["mkt_vol_gk_24h"][i] == pytest.approx(math.sqrt(gk), rel=1e-10)
    returns = np.diff(lc)[i - 24 : i]
    assert values["mkt_vol_cc_24h"][i] == pytest.approx(np.std(returns, ddof=1), rel=1e-10)
    assert values["mkt_dd_168h"][i] == pytest.approx(lc[i] - lc[i - 167 : i + 1].max(), abs=1e-12)
    assert values["mkt_range_1h"][i] == pytest.approx(lh[i] - ll[i], rel=1e-12)
    ema = values["mkt_ema_dist_24h"][i]
    assert abs(ema) < 0.2 and np.isfinite(ema)


def test_rsi_is_a_share_of_gains(computed: tuple[BarSeries, dict[str, np.ndarray]]) -> None:
    _, values = computed
    rsi = values["mkt_rsi_14h"][200:]
    assert np.all((rsi >= 0) & (rsi <= 1))


def test_calendar_views_use_completed_buckets_only(
    computed: tuple[BarSeries, dict[str, np.ndarray]],
) -> None:
    bars, values = computed
    lc, lo = np.log(bars.close), np.log(bars.open)
    day = 30
    row_07 = day * 24 + 7  # bar 07:00-08:00: completes the 04:00-08:00 bucket
    assert values["mkt_4h_ret_1"][row_07] == pytest.approx(lc[row_07] - lc[row_07 - 4], rel=1e-10)
    row_05 = day * 24 + 5  # latest complete bucket: 00:00-04:00
    assert values["mkt_4h_ret_1"][row_05] == pytest.approx(
        lc[day * 24 + 3] - lc[day * 24 - 1], rel=1e-10
    )
    row_10 = day * 24 + 10  # latest complete day: day - 1
    assert values["mkt_1d_ret_1"][row_10] == pytest.approx(
        lc[day * 24 - 1] - lc[day * 24 - 25], rel=1e-10
    )
    assert values["mkt_ret_since_1d_open"][row_10] == pytest.approx(
        lc[row_10] - lo[day * 24], rel=1e-10
    )
    # the first day is complete only from its last bar on
    assert np.isnan(values["mkt_1d_ret_1"][22]) and np.isnan(values["mkt_1d_ret_1"][40])
    assert np.isfinite(values["mkt_1d_ret_1"][47])


def test_short_gap_is_filled_and_long_gap_is_missing() -> None:
    bars = series(drop=(100, 101, 200, 201, 202, 203, 204, 205))
    grid = build_grid(bars, None, 3)
    values = MarketUnit(FeaturesConfig()).compute(grid)
    full = series()
    lc = np.log(full.close)
    assert values["mkt_filled"][100] == 1 and values["mkt_filled"][101] == 1
    assert values["mkt_ret_1h"][101] == 0.0
    assert values["mkt_ret_1h"][102] == pytest.approx(lc[102] - lc[99], rel=1e-12)
    # 6 missing bars > 3: nothing is carried forward
    assert np.all(np.isnan(grid.close[200:206]))
    assert values["mkt_filled"][203] == 0
    assert np.isnan(values["mkt_ret_1h"][206])
    assert values["mkt_missing_24h"][206] == pytest.approx(6 / 24)
    assert values["mkt_ret_24h"][210] == pytest.approx(lc[210] - lc[186], rel=1e-12)


def test_freshness_and_calendar() -> None:
    config = FeaturesConfig()
    asofs = np.array([T0 + 5 * HOUR_US + 60_000_000, T0 + 9 * HOUR_US + 60_000_000])
    anchor = np.array([T0 + 4 * HOUR_US, T0 + 4 * HOUR_US])
    listing = np.array([T0 - 48 * HOUR_US, NONE_TIME])
    context = AsofContext(
        "X", asofs, anchor, listing, TextSeries.empty("X"), np.zeros((1, 384), np.float32)
    )
    fresh = FreshnessUnit(config).compute(context)
    assert fresh["mkt_bar_age_h"][0] == pytest.approx(1 / 60)
    assert fresh["mkt_stale"].tolist() == [0.0, 1.0]  # 4 bars overdue > max_fill_hours=3
    assert fresh["mkt_listing_days"][0] == pytest.approx(2 + (5 * 60 + 1) / 1440)
    assert np.isnan(fresh["mkt_listing_days"][1])
    calendar = CalendarUnit(config).compute(context)
    # 2022-03-01 was a Tuesday; the first asof is 05:01
    assert calendar["cal_hour_sin"][0] == pytest.approx(math.sin(2 * math.pi * 5 / 24))
    assert calendar["cal_dow_cos"][0] == pytest.approx(math.cos(2 * math.pi * 1 / 7))
    assert calendar["cal_weekend"][0] == 0.0
