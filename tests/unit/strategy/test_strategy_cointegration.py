"""The Engle–Granger test against statsmodels' `coint` and against its own nominal size.

Reference numbers were produced with statsmodels 0.15.0
(`statsmodels.tsa.stattools.coint(y, x, autolag=None, maxlag=p)`, and with the
default `autolag="aic"` for the AIC case) on the same seeded series.
"""

import itertools

import numpy as np
import pytest

from quantgate.core import DataError
from quantgate.strategy.cointegration import (
    adf_no_constant,
    engle_granger,
    mackinnon_critical_value,
    mackinnon_p_value,
)


def cointegrated(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=250))
    y = 1.5 * x + 2 + rng.normal(scale=0.5, size=250)
    return y, x


def independent(seed: int = 7, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=n)), np.cumsum(rng.normal(size=n))


def test_matches_statsmodels_on_a_cointegrated_pair() -> None:
    y, x = cointegrated()
    result = engle_granger(y, x, lags=1)
    assert result.statistic == pytest.approx(-11.5795525120878, rel=1e-10)
    assert result.p_value == pytest.approx(3.5167560850748377e-20, rel=1e-8)
    assert [result.critical_values[k] for k in ("1%", "5%", "10%")] == pytest.approx(
        [-3.94096428, -3.3607786, -3.0615268], abs=1e-8
    )
    assert result.hedge_ratio == pytest.approx(1.5, abs=0.02)
    assert result.intercept == pytest.approx(2.0, abs=0.2)
    assert result.is_cointegrated(0.01)


@pytest.mark.parametrize(
    ("lags", "statistic", "p_value"),
    [
        (1, -3.160808492141942, 0.0767300972013767),
        (3, -3.1543575586666814, 0.07789813708046427),
        (None, -3.1318405508778744, 0.08208497892507366),
    ],
)
def test_matches_statsmodels_on_independent_walks(
    lags: int | None, statistic: float, p_value: float
) -> None:
    a, b = independent()
    result = engle_granger(a, b, lags=lags)
    assert result.statistic == pytest.approx(statistic, rel=1e-10)
    assert result.p_value == pytest.approx(p_value, rel=1e-8)
    assert [result.critical_values[k] for k in ("1%", "5%", "10%")] == pytest.approx(
        [-3.93344345, -3.35664144, -3.05866504], abs=1e-8
    )
    assert not result.is_cointegrated(0.05)
    assert result.is_cointegrated(0.10) is (statistic < -3.05866504)


def test_aic_picks_zero_lags_for_this_series() -> None:
    a, b = independent()
    assert engle_granger(a, b, lags=None).lags == 0


def test_rejection_rate_under_the_null_is_near_the_nominal_size() -> None:
    rejections = 0
    trials = 300
    for seed in range(trials):
        a, b = independent(seed=1000 + seed, n=200)
        rejections += engle_granger(a, b, lags=1).is_cointegrated(0.05)
    assert 0.025 <= rejections / trials <= 0.085


def test_critical_values_tend_to_the_asymptotic_ones() -> None:
    assert mackinnon_critical_value("5%", 10**9) == pytest.approx(-3.33613, abs=1e-6)
    assert mackinnon_critical_value("1%", 100) < mackinnon_critical_value("1%", 1000)


def test_p_value_is_monotone_and_clipped() -> None:
    stats = np.linspace(-19.5, 1.5, 200)
    p = [mackinnon_p_value(float(s)) for s in stats]
    assert p[0] == 0.0
    assert p[-1] == 1.0
    assert all(later >= earlier for earlier, later in itertools.pairwise(p))
    assert mackinnon_p_value(-3.33613) == pytest.approx(0.05, abs=0.01)


def test_adf_rejects_a_stationary_series_and_not_a_random_walk() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(size=400)
    assert adf_no_constant(noise, lags=1).statistic < -10
    assert adf_no_constant(np.cumsum(noise), lags=1).statistic > -2.5


@pytest.mark.parametrize(
    ("y", "x"),
    [
        (np.arange(50.0), np.ones(50)),
        (np.arange(5.0), np.arange(5.0) ** 2),
        (np.array([1.0, np.nan, 3.0, 4.0]), np.arange(4.0)),
        (np.arange(10.0), np.arange(9.0)),
    ],
)
def test_degenerate_input_is_a_data_error(y: np.ndarray, x: np.ndarray) -> None:
    with pytest.raises(DataError):
        engle_granger(y, x)
