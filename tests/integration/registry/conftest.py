"""Real ONNX artifacts for the registry tests: one tiny LightGBM model, exported several times
with different evaluation metrics (so each export is a distinct, content-addressed artifact)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from quantgate.ml.estimators.lgbm import LightGBMConfig, LightGBMEstimator
from quantgate.ml.estimators.synthetic import planted_signal
from quantgate.ml.export.metadata import Provenance, TimeWindow
from quantgate.ml.export.writer import export_model
from quantgate.registry import Registry
from quantgate.storage import create_db_engine, upgrade

CONTRACT_HASH = "c0ffee" * 10 + "cafe"

PASSING = {"net_sharpe": 2.1, "max_drawdown": 0.12, "deflated_sharpe": 0.97, "pbo": 0.08}
FAILING = {"net_sharpe": 1.2, "max_drawdown": 0.31, "deflated_sharpe": 0.97, "pbo": 0.35}

MakeArtifact = Callable[..., Path]


@pytest.fixture(scope="session")
def fitted_estimator() -> LightGBMEstimator:
    data = planted_signal(600, n_market=6, n_text=4, seed=3)
    estimator = LightGBMEstimator(
        LightGBMConfig(n_estimators=4, num_leaves=4, min_data_in_leaf=20, num_threads=1)
    )
    estimator.fit(data.features, data.targets, feature_names=data.feature_names, blocks=data.blocks)
    return estimator


def provenance(metrics: dict[str, Any], seed: int = 17) -> Provenance:
    return Provenance(
        contract_hash=CONTRACT_HASH,
        train_window=TimeWindow(
            start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 9, 1, tzinfo=UTC)
        ),
        test_window=TimeWindow(
            start=datetime(2024, 9, 8, tzinfo=UTC), end=datetime(2024, 12, 1, tzinfo=UTC)
        ),
        data_manifest_hash="d" * 64,
        git_sha="a" * 40,
        config_hash="b" * 64,
        seed=seed,
        metrics=metrics,
        n_trials=25,
    )


@pytest.fixture
def make_artifact(fitted_estimator: LightGBMEstimator, tmp_path: Path) -> MakeArtifact:
    """make_artifact(name, metrics) -> folder with model.onnx + metadata.json."""

    def make(name: str, metrics: dict[str, Any], seed: int = 17) -> Path:
        folder = tmp_path / "artifacts" / name
        export_model(fitted_estimator, folder, provenance(metrics, seed))
        return folder

    return make


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> Registry:
    return Registry(engine, tmp_path / "home" / "registry")
