import itertools
import math
import statistics

import numpy as np
import pytest
from scipy.stats import kurtosis, norm, skew

from quantgate.core import ConfigurationError
from quantgate.ml.overfitting import (
    EULER_MASCHERONI,
    deflated_sharpe_from_stats,
    deflated_sharpe_ratio,
    drawdowns,
    expected_max_sharpe,
    max_drawdown,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sample_moments,
    sharpe_ratio,
    sortino_ratio,
)


def test_sharpe_against_hand_computation() -> None:
    returns = [0.01, 0.02, -0.01, 0.03]
    per_period = statistics.mean(returns) / statistics.stdev(returns)
    assert per_period == pytest.approx(0.0125 / math.sqrt(8.75e-4 / 3))
    assert sharpe_ratio(returns) == pytest.approx(per_period)
    assert sharpe_ratio(returns, periods_per_year=365) == pytest.approx(per_period * math.sqrt(365))
    assert sharpe_ratio([np.nan, *returns]) == pytest.approx(per_period)  # missing periods dropped
    assert math.isnan(sharpe_ratio([0.01, 0.01]))
    assert math.isnan(sharpe_ratio([0.01]))


def test_sortino_uses_downside_deviation_over_all_periods() -> None:
    returns = [0.02, -0.01, 0.03, -0.02]
    downside = math.sqrt((0.01**2 + 0.02**2) / 4)
    assert sortino_ratio(returns) == pytest.approx(0.005 / downside)
    assert sortino_ratio(returns, 12) == pytest.approx(0.005 / downside * math.sqrt(12))
    assert math.isnan(sortino_ratio([0.01, 0.02]))


def test_max_drawdown_of_compounded_equity() -> None:
    # Equity 1.1, 0.55, 0.66, 1.32: worst fall is 1.1 -> 0.55.
    assert max_drawdown([0.1, -0.5, 0.2, 1.0]) == pytest.approx(0.5)
    assert max_drawdown([-0.1]) == pytest.approx(0.1)  # from the starting capital
    assert max_drawdown([0.1, 0.2]) == 0.0
    # Never below the start: zero, not the -0.0 that prints as "-0.0%".
    assert math.copysign(1.0, max_drawdown([0.0, 0.0])) == 1.0
    assert math.copysign(1.0, max_drawdown([0.1, 0.2])) == 1.0
    assert max_drawdown([]) == 0.0
    np.testing.assert_allclose(drawdowns([0.1, -0.5, 0.2]), [0.0, 0.5, 0.4])
    assert max_drawdown(np.log([1.1, 0.5, 1.2]), log_returns=True) == pytest.approx(0.5)
    assert max_drawdown([0.5, -1.0]) == pytest.approx(1.0)


def test_deflated_sharpe_matches_the_published_example() -> None:
    # Bailey & López de Prado (2014), numerical example: annualised SR 2.5 from
    # 5 years of daily returns (T = 1250), N = 100 trials with annualised
    # V[SR_n] = 1/2, skewness -3, kurtosis 10. Published: SR0 ≈ 0.1132, DSR ≈ 0.9004.
    result = deflated_sharpe_from_stats(
        2.5 / math.sqrt(250),
        1250,
        -3.0,
        10.0,
        n_trials=100,
        trials_sharpe_variance=0.5 / 250,
    )
    assert result.benchmark_sharpe == pytest.approx(0.1132, abs=5e-4)
    assert result.dsr == pytest.approx(0.9004, abs=1e-3)
    assert result.psr > result.dsr
    assert result.to_dict()["n_trials"] == 100


def test_deflated_sharpe_from_returns_equals_the_direct_formula() -> None:
    rng = np.random.default_rng(7)
    returns = rng.standard_t(df=5, size=750) * 0.01 + 0.001
    trials = rng.normal(0.0, 0.05, size=40)

    sr = returns.mean() / returns.std(ddof=1)
    g3 = skew(returns)
    g4 = kurtosis(returns, fisher=False)  # raw kurtosis
    variance = trials.var(ddof=1)
    n = 40
    sr0 = math.sqrt(variance) * (
        (1 - EULER_MASCHERONI) * norm.ppf(1 - 1 / n)
        + EULER_MASCHERONI * norm.ppf(1 - 1 / (n * math.e))
    )
    expected = norm.cdf(
        (sr - sr0) * math.sqrt(len(returns) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    )

    result = deflated_sharpe_ratio(returns, n_trials=n, trials_sharpes=trials)
    assert result.sharpe == pytest.approx(sr)
    assert result.skewness == pytest.approx(g3)
    assert result.kurtosis == pytest.approx(g4)
    assert result.benchmark_sharpe == pytest.approx(sr0)
    assert result.dsr == pytest.approx(expected, rel=1e-12)
    same = deflated_sharpe_ratio(returns, n_trials=n, trials_sharpe_variance=variance)
    assert same.dsr == pytest.approx(expected, rel=1e-12)


def test_sample_moments_of_a_normal_sample() -> None:
    values = np.random.default_rng(1).normal(0.0, 1.0, size=200_000)
    _, g3, g4, n = sample_moments(values)
    assert n == 200_000
    assert g3 == pytest.approx(0.0, abs=0.02)
    assert g4 == pytest.approx(3.0, abs=0.05)  # raw, not excess


def test_expected_max_sharpe_tracks_the_maximum_of_normal_draws() -> None:
    assert expected_max_sharpe(1, 0.04) == 0.0
    assert expected_max_sharpe(10, 0.0) == 0.0
    draws = np.random.default_rng(3).normal(0.0, 0.2, size=(20_000, 100)).max(axis=1)
    # The approximation is within ~1% of the Monte-Carlo mean for N = 100.
    assert expected_max_sharpe(100, 0.04) == pytest.approx(draws.mean(), rel=0.02)
    assert expected_max_sharpe(1000, 0.04) > expected_max_sharpe(100, 0.04)


def test_psr_is_half_at_the_benchmark_and_grows_with_sample_size() -> None:
    assert probabilistic_sharpe_ratio(0.1, 100, 0.0, 3.0, benchmark=0.1) == pytest.approx(0.5)
    assert probabilistic_sharpe_ratio(0.1, 1000, 0.0, 3.0) > probabilistic_sharpe_ratio(
        0.1, 100, 0.0, 3.0
    )
    # Negative skew and fat tails make the same SR less convincing.
    assert probabilistic_sharpe_ratio(0.1, 500, -2.0, 9.0) < probabilistic_sharpe_ratio(
        0.1, 500, 0.0, 3.0
    )


def test_pbo_hand_example_with_mean_performance() -> None:
    # Two blocks of two rows. Config 0 wins block A then is worst in block B;
    # config 2 wins block B then is worst in block A: the IS winner always
    # ranks last OOS, ω = 1/4, logit = -log 3, PBO = 1.
    a = [[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]
    b = [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    result = probability_of_backtest_overfitting(np.array(a + b), n_submatrices=2, metric="mean")
    np.testing.assert_allclose(result.logits, [-math.log(3.0)] * 2)
    assert result.pbo == 1.0
    np.testing.assert_array_equal(result.selected, [0, 2])
    np.testing.assert_allclose(result.oos_performance, [0.0, 1.0])

    consistent = probability_of_backtest_overfitting(
        np.array(a + a), n_submatrices=2, metric="mean"
    )
    np.testing.assert_allclose(consistent.logits, [math.log(3.0)] * 2)
    assert consistent.pbo == 0.0


def test_pbo_sharpe_logits_match_a_direct_recomputation() -> None:
    rng = np.random.default_rng(11)
    matrix = rng.normal(0.0, 1.0, size=(43, 5))  # 43 = 4 × 10 + 3: the first 3 rows drop
    result = probability_of_backtest_overfitting(matrix, n_submatrices=4)
    used = matrix[3:]
    blocks = np.split(used, 4)
    expected = []
    for chosen in itertools.combinations(range(4), 2):
        is_rows = np.vstack([blocks[i] for i in chosen])
        oos_rows = np.vstack([blocks[i] for i in range(4) if i not in chosen])
        is_sr = is_rows.mean(0) / is_rows.std(0, ddof=1)
        oos_sr = oos_rows.mean(0) / oos_rows.std(0, ddof=1)
        best = int(np.argmax(is_sr))
        rank = 1 + int(np.sum(oos_sr < oos_sr[best]))
        omega = rank / 6
        expected.append(math.log(omega / (1 - omega)))
    np.testing.assert_allclose(result.logits, expected, rtol=1e-10)
    assert result.n_rows_used == 40
    assert result.pbo == pytest.approx(np.mean(np.array(expected) <= 0))


def test_pbo_is_about_half_for_pure_noise() -> None:
    noise = np.random.default_rng(5).normal(0.0, 0.01, size=(1600, 40))
    result = probability_of_backtest_overfitting(noise, n_submatrices=16)
    assert result.n_combinations == math.comb(16, 8)
    assert 0.3 < result.pbo < 0.7
    assert result.to_dict()["n_configurations"] == 40


def test_pbo_is_near_zero_for_a_truly_dominant_configuration() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, size=(1600, 40))
    returns[:, 17] += 0.004  # Sharpe 0.4 per period against 0 for the rest
    result = probability_of_backtest_overfitting(returns, n_submatrices=16)
    assert result.pbo < 0.01
    assert (result.selected == 17).mean() > 0.99
    assert result.prob_oos_loss < 0.01


def test_pbo_rejects_bad_shapes() -> None:
    with pytest.raises(ConfigurationError):
        probability_of_backtest_overfitting(np.zeros((100, 3)), n_submatrices=5)
    with pytest.raises(ConfigurationError):
        probability_of_backtest_overfitting(np.zeros((10, 3)), n_submatrices=16)
    with pytest.raises(ConfigurationError):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
