"""The training/evaluation run's config: estimator, hyperparameters, folds, feature blocks.

Pipeline defaults are deliberately small (LightGBM: 150 rounds, learning rate
0.05, 15 leaves, feature fraction 0.3, 63 bins; at most `max_train_rows`
training rows per fold, a seeded subsample) because LightGBM on 2 cores costs
about 0.15 s per boosting round at 100k × 530 and each horizon fits three
boosters. The config hash of this object is the run's `config_hash`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from quantgate.config.base import ComponentConfig
from quantgate.core.enums import Horizon

DEFAULT_LGBM: dict[str, Any] = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "feature_fraction": 0.3,
    "max_bin": 63,
    "min_data_in_leaf": 100,
}
DEFAULT_MULTIMODAL: dict[str, Any] = {
    "market_hidden": 64,
    "market_embedding": 16,
    "text_hidden": 32,
    "text_embedding": 8,
    "fusion_hidden": 32,
    "max_epochs": 8,
    "batch_size": 1024,
}


class TrainingConfig(ComponentConfig):
    # "momentum" is the plain baseline every model is reported against.
    estimator: Literal["lgbm", "multimodal", "momentum"] = "lgbm"
    horizons: tuple[Horizon, ...] = tuple(Horizon)
    seed: int = Field(7, ge=0, le=2**31 - 1)
    n_folds: int = Field(4, ge=1)
    initial_train_groups: int = Field(2, ge=1)
    embargo_hours: int = Field(0, ge=0)
    max_train_rows: int = Field(40_000, ge=100)
    cost_bps: float = Field(10.0, ge=0.0)
    # Threads per fan-out task (fixed, so local and Ray give identical results).
    task_threads: int = Field(1, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)  # estimator hyperparameters
    # Feature blocks the model may use; the others are masked to NaN (the
    # contract's width and order never change, so the export stays valid).
    blocks: tuple[str, ...] | None = None

    def estimator_params(self) -> dict[str, Any]:
        base = {"lgbm": DEFAULT_LGBM, "multimodal": DEFAULT_MULTIMODAL}.get(self.estimator, {})
        return {**base, **self.params}


def make_estimator(config: TrainingConfig, horizons: tuple[Horizon, ...], threads: int) -> Any:
    params = {**config.estimator_params(), "horizons": horizons, "seed": config.seed}
    params["num_threads"] = threads
    if config.estimator == "lgbm":
        from quantgate.ml.estimators.lgbm import LightGBMConfig, LightGBMEstimator

        return LightGBMEstimator(LightGBMConfig(**params))
    if config.estimator == "momentum":
        from quantgate.ml.estimators.momentum import MomentumBaseline, MomentumBaselineConfig

        return MomentumBaseline(MomentumBaselineConfig(**params))
    from quantgate.ml.estimators.multimodal import MultimodalConfig, MultimodalEstimator

    return MultimodalEstimator(MultimodalConfig(**params))
