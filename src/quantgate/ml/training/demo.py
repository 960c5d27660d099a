"""`run_demo_training`: the demo's training phase (small LightGBM, 3 folds, 1h/4h/1d/7d).

Budget: < 2 minutes on the demo's ~62k feature rows (8 symbols × ~7.8k hours)
on 2 cores: 80 rounds, at most 15k training rows per fold (seeded subsample).
"""

from __future__ import annotations

from typing import Any

from quantgate.core.enums import Horizon
from quantgate.ml.training.config import TrainingConfig
from quantgate.ml.training.pipeline import MLEnvironment, run_train, summary_line

DEMO_CONFIG = TrainingConfig(
    estimator="lgbm",
    horizons=tuple(Horizon),
    n_folds=3,
    initial_train_groups=2,
    max_train_rows=15_000,
    params={"n_estimators": 80},
)


def run_demo_training(cli: Any, config: TrainingConfig = DEMO_CONFIG) -> dict[str, Any]:
    """Train + evaluate + export on everything in the feature store; returns the train report
    plus ``lines`` (one printable line per horizon) and ``passed``."""
    from quantgate.cli.ml import environment

    env: MLEnvironment = environment(cli, None, None)
    payload = run_train(env, config)
    payload["lines"] = summary_line(payload)
    return payload
