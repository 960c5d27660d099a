import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgate.core import DataError, Horizon
from quantgate.ml.labels import compute_labels, label_columns

START = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)  # bar close + a 5 s delay
HOUR = timedelta(hours=1)


def frame(rows: Sequence[tuple[str, int, float | None]]) -> pl.DataFrame:
    """Rows of (symbol, hour index, close)."""
    return pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "asof": [START + r[1] * HOUR for r in rows],
            "close": [r[2] for r in rows],
        },
        schema={"symbol": pl.String, "asof": pl.Datetime("us", "UTC"), "close": pl.Float64},
    )


def reference(
    rows: list[tuple[str, int, float | None]], horizon: Horizon
) -> dict[tuple[str, int], tuple[float, float]]:
    """Brute force: (forward log return, realised vol) per (symbol, hour)."""
    closes = {(s, k): c for s, k, c in rows}

    def log_close(symbol: str, hour: int) -> float:
        value = closes.get((symbol, hour))
        return math.log(value) if value is not None else math.nan

    out = {}
    h = horizon.hours
    for symbol, hour, _ in rows:
        ret = log_close(symbol, hour + h) - log_close(symbol, hour)
        steps = [
            log_close(symbol, hour + k) - log_close(symbol, hour + k - 1) for k in range(1, h + 1)
        ]
        rv = (
            math.sqrt(sum(r * r for r in steps))
            if all(math.isfinite(r) for r in steps)
            else math.nan
        )
        out[(symbol, hour)] = (ret, rv)
    return out


def test_forward_return_realised_vol_direction_and_window_end() -> None:
    closes = [100.0, 101.0, 99.0, 99.0, 102.0, 103.0]
    labels = compute_labels(
        frame([("BTC", k, c) for k, c in enumerate(closes)]), [Horizon.H1, Horizon.H4]
    )
    h1, h4 = label_columns(Horizon.H1), label_columns(Horizon.H4)

    expected_ret_1h = [math.log(closes[k + 1] / closes[k]) for k in range(5)] + [math.nan]
    np.testing.assert_allclose(labels[h1.ret].to_numpy(), expected_ret_1h, equal_nan=True)
    np.testing.assert_allclose(labels[h1.rv].to_numpy(), np.abs(expected_ret_1h), equal_nan=True)
    # 99 -> 99 is a flat move: "not up".
    np.testing.assert_array_equal(
        labels[h1.direction].to_numpy(), [1.0, 0.0, 0.0, 1.0, 1.0, math.nan]
    )

    ret_4h = labels[h4.ret].to_numpy()
    assert ret_4h[0] == pytest.approx(math.log(102.0 / 100.0))
    assert ret_4h[1] == pytest.approx(math.log(103.0 / 101.0))
    assert np.isnan(ret_4h[2:]).all()
    hourly = np.diff(np.log(closes))
    assert labels[h4.rv][0] == pytest.approx(math.sqrt(np.sum(hourly[0:4] ** 2)))
    assert labels[h4.rv][1] == pytest.approx(math.sqrt(np.sum(hourly[1:5] ** 2)))

    assert labels[h4.label_end].dtype == pl.Datetime("us", "UTC")
    assert labels[h4.label_end].to_list() == [START + (k + 4) * HOUR for k in range(6)]
    # Missing values are NaN, never null.
    assert labels[h1.ret].null_count() == 0


def test_a_gap_is_never_bridged_by_forward_filling() -> None:
    # Hour 2 is missing entirely; hour 4 has a row but no known close.
    rows = [
        ("ETH", 0, 10.0),
        ("ETH", 1, 11.0),
        ("ETH", 3, 12.0),
        ("ETH", 4, None),
        ("ETH", 5, 13.0),
        ("ETH", 6, 14.0),
    ]
    labels = compute_labels(frame(rows), [Horizon.H1, Horizon.H4])
    by_hour = dict(zip([r[1] for r in rows], labels.iter_rows(named=True), strict=True))
    assert math.isnan(by_hour[1]["ret_1h"])  # the close at hour 2 is unknown
    assert math.isnan(by_hour[3]["ret_1h"])  # ... and at hour 4
    assert math.isnan(by_hour[4]["ret_1h"])  # no close at the decision time
    # The 4h return needs only its two endpoints; the volatility needs every hour.
    assert by_hour[1]["ret_4h"] == pytest.approx(math.log(13.0 / 11.0))
    assert math.isnan(by_hour[1]["rv_4h"])
    assert by_hour[0]["ret_4h"] is not None and math.isnan(by_hour[0]["ret_4h"])


def test_symbols_never_borrow_each_others_prices() -> None:
    rows = [("A", 0, 1.0), ("A", 1, 2.0), ("B", 2, 5.0), ("B", 3, 6.0)]
    labels = compute_labels(frame(rows), [Horizon.H1])
    assert labels["symbol"].to_list() == ["A", "A", "B", "B"]
    np.testing.assert_allclose(
        labels["ret_1h"].to_numpy(),
        [math.log(2.0), math.nan, math.log(6.0 / 5.0), math.nan],
        equal_nan=True,
    )


def test_output_is_sorted_and_keeps_extra_columns() -> None:
    data = frame([("B", 1, 4.0), ("A", 1, 2.0), ("B", 0, 2.0), ("A", 0, 1.0)]).with_columns(
        pl.lit("x").alias("extra")
    )
    labels = compute_labels(data, [Horizon.H1])
    assert labels.select("symbol", "close").rows() == [
        ("A", 1.0),
        ("A", 2.0),
        ("B", 2.0),
        ("B", 4.0),
    ]
    assert labels["extra"].to_list() == ["x"] * 4
    np.testing.assert_allclose(labels["ret_1h"].to_numpy()[[0, 2]], [math.log(2.0)] * 2)


def test_empty_frame_gets_typed_empty_columns() -> None:
    labels = compute_labels(frame([]), [Horizon.D1])
    assert labels.height == 0
    assert labels.schema["ret_1d"] == pl.Float64
    assert labels.schema["label_end_1d"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (frame([("A", 0, 1.0), ("A", 0, 2.0)]), "duplicate"),
        (frame([("A", 0, 1.0), ("A", 1, 0.0)]), "non-positive"),
        (frame([("A", 0, 1.0), ("A", 1, math.inf)]), "non-positive or infinite"),
        (
            pl.DataFrame(
                {
                    "symbol": ["A", "A"],
                    "asof": [START, START + timedelta(minutes=90)],
                    "close": [1.0, 2.0],
                }
            ),
            "hourly grid",
        ),
    ],
)
def test_bad_input_is_a_data_error(data: pl.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message):
        compute_labels(data, [Horizon.H1])


@st.composite
def close_series(draw: st.DrawFn) -> list[tuple[str, int, float | None]]:
    rows: list[tuple[str, int, float | None]] = []
    for symbol in draw(st.lists(st.sampled_from("ABC"), min_size=1, max_size=3, unique=True)):
        hours = draw(st.lists(st.integers(0, 60), min_size=1, max_size=40, unique=True))
        for hour in sorted(hours):
            close = draw(st.one_of(st.none(), st.floats(0.01, 1e6)))
            rows.append((symbol, hour, close))
    return rows


@settings(max_examples=60, deadline=None)
@given(close_series())
def test_labels_match_a_brute_force_reference(rows: list[tuple[str, int, float | None]]) -> None:
    horizons = [Horizon.H1, Horizon.H4, Horizon.D1]
    labels = compute_labels(frame(rows), horizons)
    keys = list(
        zip(labels["symbol"].to_list(), ((t - START) // HOUR for t in labels["asof"]), strict=True)
    )
    for horizon in horizons:
        names = label_columns(horizon)
        expected = reference(rows, horizon)
        want_ret = np.array([expected[k][0] for k in keys])
        want_rv = np.array([expected[k][1] for k in keys])
        np.testing.assert_allclose(
            labels[names.ret].to_numpy(), want_ret, rtol=1e-12, atol=1e-12, equal_nan=True
        )
        np.testing.assert_allclose(
            labels[names.rv].to_numpy(), want_rv, rtol=1e-9, atol=1e-15, equal_nan=True
        )
        direction = labels[names.direction].to_numpy()
        np.testing.assert_array_equal(np.isnan(direction), np.isnan(want_ret))
        np.testing.assert_array_equal(
            direction[~np.isnan(want_ret)], (want_ret[~np.isnan(want_ret)] > 0).astype(float)
        )
