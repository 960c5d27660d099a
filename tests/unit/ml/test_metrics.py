import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from quantgate.core import DataError, Horizon
from quantgate.ml.metrics import (
    cross_sectional_weights,
    fold_ic_summary,
    group_scores,
    hit_rate,
    information_coefficient,
    long_short_backtest,
    mean_confidence_interval,
    periods_per_year,
    rank_information_coefficient,
    vol_forecast_error,
)

START = datetime(2024, 3, 1, 0, 0, 5, tzinfo=UTC)


def test_ic_and_rank_ic_match_numpy_and_scipy() -> None:
    rng = np.random.default_rng(0)
    realised = rng.normal(size=300)
    predicted = realised * 0.3 + rng.normal(size=300)
    assert information_coefficient(predicted, realised) == pytest.approx(
        np.corrcoef(predicted, realised)[0, 1]
    )
    assert rank_information_coefficient(predicted, realised) == pytest.approx(
        spearmanr(predicted, realised)[0]
    )
    # NaN on either side drops the pair.
    with_gaps = predicted.copy()
    with_gaps[:10] = np.nan
    assert information_coefficient(with_gaps, realised) == pytest.approx(
        np.corrcoef(predicted[10:], realised[10:])[0, 1]
    )
    assert math.isnan(information_coefficient([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(rank_information_coefficient([1.0, 2.0], [1.0, 2.0]))
    # Ties get average ranks.
    assert rank_information_coefficient([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        spearmanr([1, 1, 2, 3], [1, 2, 3, 4])[0]
    )


def test_hit_rate_counts_calls_only() -> None:
    # Calls: +0.2 vs +0.1 right, -0.1 vs +0.3 wrong, +0.5 vs 0.0 wrong (flat is "not up").
    assert hit_rate([0.2, -0.1, 0.0, 0.5, np.nan], [0.1, 0.3, -0.2, 0.0, 0.1]) == pytest.approx(
        1 / 3
    )
    assert math.isnan(hit_rate([0.0, 0.0], [1.0, -1.0]))


def test_vol_forecast_error() -> None:
    realised = np.array([0.01, 0.02, 0.03])
    perfect = vol_forecast_error(realised, realised)
    assert perfect.rmse_log == 0.0 and perfect.qlike == pytest.approx(0.0, abs=1e-15)
    doubled = vol_forecast_error(2 * realised, realised)
    assert doubled.rmse_log == pytest.approx(math.log(2))
    assert doubled.bias_log == pytest.approx(math.log(2))
    assert doubled.qlike == pytest.approx(0.25 - math.log(0.25) - 1)
    assert vol_forecast_error([0.01, np.nan, 0.0], [0.02, 0.01, 0.01]).n == 1
    assert json.dumps(doubled.to_dict())


def scored_frame() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    realised = rng.normal(size=n)
    return pl.DataFrame(
        {
            "symbol": rng.choice(["BTC", "ETH", "SOL"], size=n),
            "horizon": rng.choice(["1h", "7d"], size=n),
            "fold": rng.integers(0, 5, size=n),
            "pred": realised * 0.4 + rng.normal(size=n),
            "ret": realised,
        }
    )


def test_group_scores_equal_the_array_functions_per_group() -> None:
    frame = scored_frame()
    scores = group_scores(frame, "pred", "ret", ["symbol", "horizon"])
    assert scores.columns == ["symbol", "horizon", "n", "ic", "rank_ic", "hit_rate"]
    assert scores.height == 6
    for row in scores.iter_rows(named=True):
        part = frame.filter(
            (pl.col("symbol") == row["symbol"]) & (pl.col("horizon") == row["horizon"])
        )
        assert row["n"] == part.height
        assert row["ic"] == pytest.approx(
            information_coefficient(part["pred"].to_numpy(), part["ret"].to_numpy())
        )
        assert row["rank_ic"] == pytest.approx(
            rank_information_coefficient(part["pred"].to_numpy(), part["ret"].to_numpy())
        )
        assert row["hit_rate"] == pytest.approx(
            hit_rate(part["pred"].to_numpy(), part["ret"].to_numpy())
        )


def test_group_scores_drop_nan_pairs_and_report_nan_for_tiny_groups() -> None:
    frame = pl.DataFrame(
        {
            "g": ["a", "a", "b", "b", "b"],
            "p": [1.0, 2.0, 1.0, float("nan"), 3.0],
            "r": [1.0, 3.0, 2.0, 1.0, 5.0],
        }
    )
    scores = group_scores(frame, "p", "r", ["g"])
    assert scores["n"].to_list() == [2, 2]
    assert all(math.isnan(v) for v in scores["ic"].to_list())


def test_confidence_intervals() -> None:
    t = mean_confidence_interval([0.1, 0.2, 0.3])
    half = 4.302652729749464 * 0.1 / math.sqrt(3)  # t(0.975, 2 dof)
    assert (t.mean, t.low, t.high) == pytest.approx((0.2, 0.2 - half, 0.2 + half))
    boot = mean_confidence_interval([0.1, 0.2, 0.3, 0.05, 0.15], method="bootstrap", seed=1)
    assert boot.low < boot.mean < boot.high
    assert boot == mean_confidence_interval([0.1, 0.2, 0.3, 0.05, 0.15], method="bootstrap", seed=1)
    single = mean_confidence_interval([0.1, np.nan])
    assert single.n == 1 and math.isnan(single.low)
    assert json.loads(json.dumps(single.to_dict()))["low"] is None


def test_fold_ic_summary_has_an_interval_per_horizon() -> None:
    frame = scored_frame()
    summary = fold_ic_summary(frame, "pred", "ret", by=("horizon",))
    assert summary["horizon"].to_list() == ["1h", "7d"]
    for row in summary.iter_rows(named=True):
        part = frame.filter(pl.col("horizon") == row["horizon"])
        per_fold = [
            information_coefficient(
                part.filter(pl.col("fold") == f)["pred"].to_numpy(),
                part.filter(pl.col("fold") == f)["ret"].to_numpy(),
            )
            for f in range(5)
        ]
        ci = mean_confidence_interval(per_fold)
        assert row["n_folds"] == 5
        assert (row["ic_mean"], row["ic_low"], row["ic_high"]) == pytest.approx(
            (ci.mean, ci.low, ci.high)
        )
        assert row["rank_ic_low"] < row["rank_ic_mean"] < row["rank_ic_high"]


def test_cross_sectional_weights() -> None:
    signal = np.array([[1.0, 3.0, 2.0], [1.0, np.nan, 1.0], [5.0, -2.0, np.nan]])
    rank = cross_sectional_weights(signal, weighting="rank")
    np.testing.assert_allclose(rank, [[-0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.5, -0.5, 0.0]])
    sign = cross_sectional_weights(np.array([[1.0, 2.0, -1.0]]), weighting="sign")
    np.testing.assert_allclose(sign, [[1 / 3, 1 / 3, -1 / 3]])


def panel(
    hours: list[int], signal: dict[str, list[float]], returns: dict[str, dict[str, list[float]]]
) -> pl.DataFrame:
    rows = []
    for symbol, values in signal.items():
        for index, hour in enumerate(hours):
            row = {"symbol": symbol, "asof": START + timedelta(hours=hour), "signal": values[index]}
            for column, by_symbol in returns.items():
                row[column] = by_symbol[symbol][index]
            rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"asof": pl.Datetime("us", "UTC")})


def test_non_overlapping_backtest_by_hand() -> None:
    hours = list(range(12))
    # A above B except at hour 4; only hours 0, 4 and 8 are traded.
    a_signal = [2.0] * 12
    a_signal[4] = 0.0
    a_ret = (
        [math.log(1.02)] + [0.0] * 3 + [math.log(0.99)] + [0.0] * 3 + [math.log(1.01)] + [0.0] * 3
    )
    b_ret = [0.0] * 4 + [math.log(1.01)] + [0.0] * 3 + [math.nan] + [0.0] * 3
    frame = panel(hours, {"A": a_signal, "B": [1.0] * 12}, {"ret_4h": {"A": a_ret, "B": b_ret}})
    result = long_short_backtest(frame, "signal", Horizon.H4, cost_bps=10.0)

    assert [t - START for t in result.times] == [timedelta(hours=h) for h in (0, 4, 8)]
    np.testing.assert_allclose(result.gross_returns, [0.01, 0.01, 0.005])
    np.testing.assert_allclose(result.turnover, [1.0, 2.0, 2.0])
    np.testing.assert_allclose(result.net_returns, [0.009, 0.008, 0.003])
    assert result.n_missing_returns == 1  # B at hour 8 was held but its return is unknown
    assert result.periods_per_year == periods_per_year(Horizon.H4) == 2190.0
    net = np.array([0.009, 0.008, 0.003])
    assert result.net_sharpe == pytest.approx(net.mean() / net.std(ddof=1) * math.sqrt(2190))
    assert result.max_drawdown == 0.0
    assert result.annual_turnover == pytest.approx(5 / 3 * 2190)
    summary = json.loads(json.dumps(result.summary()))
    assert summary["n_periods"] == 3 and summary["cost_bps"] == 10.0
    assert result.returns_frame().columns == ["asof", "gross_return", "net_return", "turnover"]


def test_non_overlapping_rebalances_skip_to_the_next_time_a_horizon_later() -> None:
    hours = [0, 1, 2, 5, 6, 9, 10]
    frame = panel(
        hours, {"A": [1.0] * 7, "B": [0.0] * 7}, {"ret_4h": {"A": [0.0] * 7, "B": [0.0] * 7}}
    )
    result = long_short_backtest(frame, "signal", Horizon.H4)
    assert [int((t - START) / timedelta(hours=1)) for t in result.times] == [0, 5, 9]


def test_overlapping_backtest_ramps_sleeves_in() -> None:
    hours = list(range(8))
    step = math.log(1.01)
    frame = panel(
        hours, {"A": [1.0] * 8, "B": [0.0] * 8}, {"ret_1h": {"A": [step] * 8, "B": [0.0] * 8}}
    )
    result = long_short_backtest(frame, "signal", Horizon.H4, mode="overlapping", cost_bps=20.0)
    weight_a = np.array([0.125, 0.25, 0.375, 0.5, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(result.gross_returns, weight_a * 0.01)
    np.testing.assert_allclose(result.turnover, [0.25] * 4 + [0.0] * 4, atol=1e-15)
    np.testing.assert_allclose(result.net_returns, weight_a * 0.01 - 0.002 * result.turnover)
    assert result.periods_per_year == 8760.0


def test_overlapping_backtest_refuses_an_irregular_grid() -> None:
    frame = panel([0, 1, 3], {"A": [1.0] * 3}, {"ret_1h": {"A": [0.0] * 3}})
    with pytest.raises(DataError, match="every 1h"):
        long_short_backtest(frame, "signal", Horizon.H4, mode="overlapping")


def test_duplicate_rows_are_refused() -> None:
    frame = panel([0, 0], {"A": [1.0, 2.0]}, {"ret_1h": {"A": [0.0, 0.0]}})
    with pytest.raises(DataError, match="duplicate"):
        long_short_backtest(frame, "signal", Horizon.H1)


def test_costs_turn_a_churning_edge_into_a_loss() -> None:
    rng = np.random.default_rng(8)
    hours = list(range(0, 24 * 200, 24))
    symbols = [f"S{k}" for k in range(10)]
    realised = {s: list(rng.normal(0.0, 0.02, size=len(hours))) for s in symbols}
    # A signal with a small real edge that is re-drawn every day (high turnover).
    signal = {
        s: list(np.array(realised[s]) * 0.1 + rng.normal(0.0, 0.02, size=len(hours)))
        for s in symbols
    }
    frame = panel(hours, signal, {"ret_1d": realised})
    free = long_short_backtest(frame, "signal", Horizon.D1)
    costly = long_short_backtest(frame, "signal", Horizon.D1, cost_bps=50.0)
    assert free.net_sharpe > 0
    assert costly.net_sharpe < free.net_sharpe
    np.testing.assert_allclose(free.net_returns - costly.net_returns, 0.005 * free.turnover)
    assert free.periods_per_year == 365.0
