"""The numeric building blocks against direct computations, and their finite memory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quantgate.features import ops


@pytest.fixture
def walk() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.cumsum(rng.normal(0, 0.01, 3000)) + 5.0


def test_fir_ema_is_the_truncated_renormalised_average(walk: np.ndarray) -> None:
    span = 20
    result = ops.fir_ema(walk, span)
    alpha = 2 / (span + 1)
    reach = ops.ema_reach(span)
    weights = (1 - alpha) ** np.arange(reach)
    i = 1500
    window = walk[i - reach + 1 : i + 1][::-1]
    assert result[i] == pytest.approx(np.sum(weights * window) / weights.sum(), rel=1e-12)


def test_fir_ema_skips_missing_rows(walk: np.ndarray) -> None:
    values = walk.copy()
    values[1490:1495] = np.nan
    result = ops.fir_ema(values, 20)
    alpha = 2 / 21
    reach = ops.ema_reach(20)
    weights = (1 - alpha) ** np.arange(reach)
    window = values[1500 - reach + 1 : 1501][::-1]
    present = ~np.isnan(window)
    expected = np.sum(weights[present] * window[present]) / weights[present].sum()
    assert result[1500] == pytest.approx(expected, rel=1e-12)


def test_operations_have_finite_memory(walk: np.ndarray) -> None:
    """A value computed from a window that covers its reach equals the full-history value."""
    r = ops.diff(walk)
    full = {
        "ema": ops.fir_ema(walk, 168),
        "rsi": ops.rsi(walk, 14),
        "std": ops.roll_std(r, 168, 0.8),
        "adx": ops.directional(walk + 0.01, walk - 0.01, walk, 14)[2],
        "skew": ops.roll_moments(r, 168, 0.8)[0],
    }
    start = 2000
    tail = walk[start:]
    tr = ops.diff(tail)
    part = {
        "ema": ops.fir_ema(tail, 168),
        "rsi": ops.rsi(tail, 14),
        "std": ops.roll_std(tr, 168, 0.8),
        "adx": ops.directional(tail + 0.01, tail - 0.01, tail, 14)[2],
        "skew": ops.roll_moments(tr, 168, 0.8)[0],
    }
    for name in full:
        np.testing.assert_allclose(part[name][-1], full[name][-1], rtol=1e-9, err_msg=name)


def test_rsi_matches_a_loop(walk: np.ndarray) -> None:
    period = 14
    result = ops.rsi(walk, period)
    change = np.diff(walk)
    i = 2500
    reach = ops.ema_reach(2 * period - 1)
    weights = (1 - 1 / period) ** np.arange(reach)
    window = change[i - reach : i][::-1]  # changes ending at row i
    up = np.sum(weights * np.maximum(window, 0)) / weights.sum()
    down = np.sum(weights * np.maximum(-window, 0)) / weights.sum()
    assert result[i] == pytest.approx(up / (up + down), rel=1e-10)


def test_rolling_statistics(walk: np.ndarray) -> None:
    r = ops.diff(walk)
    i, w = 1000, 24
    window = r[i - w + 1 : i + 1]
    assert ops.roll_std(r, w, 0.8)[i] == pytest.approx(np.std(window, ddof=1), rel=1e-10)
    skew, kurt = ops.roll_moments(r, w, 0.8)
    assert skew[i] == pytest.approx(stats.skew(window), rel=1e-8)
    assert kurt[i] == pytest.approx(stats.kurtosis(window), rel=1e-8)
    assert ops.zscore(walk, w, 0.8)[i] == pytest.approx(
        (walk[i] - walk[i - w + 1 : i + 1].mean()) / walk[i - w + 1 : i + 1].std(ddof=1), rel=1e-9
    )


def test_rolling_statistics_need_coverage() -> None:
    values = np.arange(30, dtype=float)
    values[10:20] = np.nan
    mean = ops.roll_mean(values, 10, 0.8)
    assert np.isnan(mean[19]) and np.isnan(mean[25])  # 0 and 6 of 10 present
    assert mean[28] == pytest.approx(np.mean(values[20:29]))  # 9 of 10 present


def test_beta_and_correlation(walk: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0, 0.01, 3000)
    x = 1.7 * y + rng.normal(0, 0.005, 3000)
    beta, corr = ops.roll_beta_corr(x, y, 168, 0.8)
    i = 2000
    xs, ys = x[i - 167 : i + 1], y[i - 167 : i + 1]
    assert beta[i] == pytest.approx(np.polyfit(ys, xs, 1)[0], rel=1e-9)
    assert corr[i] == pytest.approx(np.corrcoef(xs, ys)[0, 1], rel=1e-9)


def test_shift_looks_back_and_ahead() -> None:
    values = np.arange(5, dtype=float)
    np.testing.assert_array_equal(ops.shift(values, 2), [np.nan, np.nan, 0, 1, 2])
    np.testing.assert_array_equal(ops.shift(values, -1), [1, 2, 3, 4, np.nan])
