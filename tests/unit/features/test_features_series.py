"""Point-in-time views of a bar series: anchors, late bars, the prefix rule, the asof grid."""

from __future__ import annotations

import numpy as np

from quantgate.features.series import HOUR_US, NONE_TIME, BarSeries, ListingIndex, hourly_asofs

LATENCY = 5_000_000
DELAY = 60_000_000


def bars(available_delay: dict[int, int] | None = None) -> BarSeries:
    ts = np.arange(10, dtype=np.int64) * HOUR_US
    available = ts + HOUR_US + LATENCY
    for row, extra in (available_delay or {}).items():
        available[row] += extra
    values = np.linspace(1.0, 2.0, 10)
    return BarSeries("X", "s", ts, available, values, values, values, values, values)


def test_anchor_is_the_latest_known_bar() -> None:
    series = bars()
    asofs = hourly_asofs(0, 9 * HOUR_US, DELAY)
    anchor, provenance, prefix = series.anchors(asofs)
    listing = ListingIndex.of(series).at(asofs)
    np.testing.assert_array_equal(anchor, series.ts)
    np.testing.assert_array_equal(provenance, series.available_at)
    assert (listing == 0).all() and prefix.all()
    assert (provenance <= asofs).all()


def test_nothing_known_before_the_first_publication() -> None:
    early = np.array([HOUR_US], dtype=np.int64)
    anchor, provenance, _ = bars().anchors(early)
    listing = ListingIndex.of(bars()).at(early)
    assert anchor[0] == NONE_TIME and provenance[0] == NONE_TIME and listing[0] == NONE_TIME


def test_a_late_bar_breaks_the_prefix_until_it_arrives() -> None:
    series = bars({4: 3 * HOUR_US})  # bar 4 arrives 3 hours late
    asofs = hourly_asofs(0, 9 * HOUR_US, DELAY)
    anchor, provenance, prefix = series.anchors(asofs)
    # at the asof of bar 5 (06:01), bar 5 is known but bar 4 is not
    assert anchor[5] == 5 * HOUR_US and not prefix[5]
    assert anchor[4] == 3 * HOUR_US and prefix[4]  # bar 4 not yet there: anchor is bar 3
    assert prefix[7]  # 08:01: bar 4 arrived at 08:00:05
    assert (provenance <= asofs).all()
    known = series.known_at(int(asofs[5]))
    assert 4 * HOUR_US not in known.ts.tolist()


def test_asof_grid_is_bar_close_plus_delay() -> None:
    grid = hourly_asofs(0, 2 * HOUR_US, DELAY)
    np.testing.assert_array_equal(grid, np.array([1, 2, 3]) * HOUR_US + DELAY)


def test_listing_survives_a_warm_up_window() -> None:
    series = bars()
    index = ListingIndex.of(series)
    window = series.window(5 * HOUR_US)
    asofs = np.array([9 * HOUR_US], dtype=np.int64)
    assert index.at(asofs)[0] == 0
    assert ListingIndex.of(window).at(asofs)[0] == 5 * HOUR_US  # what a window alone would say
