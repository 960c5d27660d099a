"""Training pipeline end to end on a small synthetic market: eval, train + ONNX, leakage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantgate.adapters.sim import SyntheticMarketConfig
from quantgate.core.enums import Horizon
from quantgate.data.generate import generate_synthetic
from quantgate.engine.backtest import load_predictions
from quantgate.features import FeatureBuilder, FeaturesConfig, feature_contract, read_feature_matrix
from quantgate.features.store import PROVENANCE
from quantgate.ml.training.config import TrainingConfig
from quantgate.ml.training.pipeline import MLEnvironment, run_eval, run_train
from quantgate.ml.training.runs import encode_times, record_run, validate_leakage
from quantgate.storage import create_db_engine
from quantgate.storage.lake import Lake
from quantgate.storage.models import Base

START = datetime(2025, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")
SMALL = TrainingConfig(
    horizons=(Horizon.H1, Horizon.D1),
    n_folds=2,
    max_train_rows=3000,
    params={"n_estimators": 20},
    task_threads=1,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> MLEnvironment:
    root = tmp_path_factory.mktemp("ml")
    engine = create_db_engine(f"sqlite:///{root}/db.sqlite")
    Base.metadata.create_all(engine)  # the pipeline, not the migration chain, is under test
    lake = Lake(root / "lake")
    generate_synthetic(
        lake,
        engine,
        SyntheticMarketConfig(
            seed=7,
            symbols=SYMBOLS,
            start=START,
            end=START + timedelta(days=60),
            posts_per_day_base=0.3,
        ),
    )
    features = FeaturesConfig(embedder="hashing")
    FeatureBuilder(lake, root / "features", features).build(None)
    return MLEnvironment(
        lake=lake, engine=engine, home=root / "home", features=features, workers=1, num_threads=2
    )


def test_eval_reports_every_symbol_horizon_fold_and_records_the_run(env: MLEnvironment) -> None:
    payload, evaluation, dataset = run_eval(env, SMALL)
    assert set(payload["per_horizon"]) == {"1h", "1d"}
    assert len(payload["per_fold"]) == len(SYMBOLS) * 2 * 2
    row = payload["per_fold"][0]
    for key in ("ic", "rank_ic", "hit_rate", "ece", "vol_forecast_error", "backtest"):
        assert key in row
    assert set(row["backtest"]) >= {"net_sharpe", "max_drawdown", "mean_turnover"}
    assert payload["oracle_ic"]["1d"] is not None  # synthetic manifest read
    assert "ic_to_oracle" in payload and "ic_ci" in payload["per_horizon"]["1d"]
    assert len(payload["data_manifest_hash"]) == 64
    # labels joined on (symbol, asof): the 1h label is the log return to the next close
    frame = dataset.frame.filter(dataset.frame["symbol"] == "BTCUSDT")
    ret = frame["ret_1h"].to_numpy()
    assert np.isfinite(ret[:-1]).mean() > 0.95 and np.isnan(ret[-1])
    assert evaluation.predictions.height > 0
    report = validate_leakage(env.engine)
    assert report["violating_runs"] == 0 and report["runs_checked"] >= 1


def test_train_exports_onnx_that_matches_the_estimator(env: MLEnvironment) -> None:
    from quantgate.ml.export.loader import OnnxMultiHorizonModel

    payload = run_train(env, SMALL)
    directory = Path(payload["artifact"]["path"])
    assert (directory / "metadata.json").is_file()
    assert directory.parent == env.home / "models"
    model = OnnxMultiHorizonModel(directory)
    assert model is not None
    assert validate_leakage(env.engine)["violating_runs"] == 0

    # The out-of-sample predictions carry each feature row's last input arrival, so the
    # ml_signal backtest's leak check runs on them (it was skipped: the column was absent).
    oos = pl.read_parquet(payload["artifact"]["oos_predictions"])
    rows = read_feature_matrix(env.lake, None, None, None, contract=feature_contract(env.features))
    expected = rows.select("symbol", "asof", pl.col(PROVENANCE).alias("from_features"))
    joined = oos.join(expected, on=["symbol", "asof"], how="left")
    assert joined.height == oos.height > 0
    assert joined[PROVENANCE].null_count() == 0
    assert (joined[PROVENANCE] == joined["from_features"]).all()
    assert (joined[PROVENANCE] <= joined["asof"]).all()
    predictions = load_predictions(Path(payload["artifact"]["oos_predictions"]))
    assert all(
        p.max_input_available_at is not None and p.max_input_available_at <= p.asof
        for p in predictions
    )


def test_an_overlapping_split_and_a_contract_change_are_counted(env: MLEnvironment) -> None:
    before = validate_leakage(env.engine)["violating_runs"]
    hour = 3_600_000_000
    times = np.arange(0, 200 * hour, hour, dtype=np.int64) + 1_700_000_000_000_000
    leaky = {  # test starts 1h after training ends: 1d label windows overlap
        "horizon": "1d",
        "horizon_hours": 24,
        "index": 0,
        "train_times": encode_times(times[:100]),
        "test_times": encode_times(times[101:]),
    }
    common = dict(
        kind="eval",
        estimator="lgbm",
        symbols=["X"],
        horizons=[Horizon.D1],
        data_manifest_hash="m",
        config_hash="c",
        seed=0,
        n_trials=1,
        metrics={},
        sha="s",
    )
    record_run(
        env.engine,
        run_id="leaky",
        windows=[leaky],
        contract_hash="a",
        evaluated_contract_hash="a",
        **common,
    )
    record_run(
        env.engine,
        run_id="drifted",
        windows=[],
        contract_hash="a",
        evaluated_contract_hash="b",
        **common,
    )
    report = validate_leakage(env.engine)
    assert report["violating_runs"] == before + 2
    assert {v["run_id"] for v in report["violations"]} >= {"leaky", "drifted"}
    assert not report["passed"]


def test_local_pool_and_a_real_ray_cluster_give_identical_results(env: MLEnvironment) -> None:
    ray = pytest.importorskip("ray")
    from quantgate.ml.training.evaluate import evaluate_configs

    config = SMALL.model_copy(update={"horizons": (Horizon.H4,), "params": {"n_estimators": 10}})
    dataset = env.dataset(None, None, None, config.horizons)
    local = evaluate_configs(dataset, [config], executor="local", workers=2)[0]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = evaluate_configs(dataset, [config], executor="ray")[0]
    finally:
        ray.shutdown()
    assert local.predictions.equals(remote.predictions)
    assert local.report["per_horizon"] == remote.report["per_horizon"]
