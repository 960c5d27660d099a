"""Multi-horizon estimators behind one scikit-learn style contract (see `base`).

Only the light, NumPy-only parts are re-exported here; the estimators are
imported from their modules (`quantgate.ml.estimators.lgbm`,
`quantgate.ml.estimators.multimodal`) so that importing this package, as the
ONNX runtime side does, never loads LightGBM or torch.
"""

from quantgate.ml.estimators.base import (
    ALL_HORIZONS,
    EstimatorConfig,
    MultiHorizonEstimator,
    NotFittedError,
)
from quantgate.ml.estimators.inputs import TEXT_BLOCK, HorizonTargets
from quantgate.ml.estimators.prediction import (
    ConfidenceCalibration,
    Head,
    HorizonPrediction,
    MultiHorizonPrediction,
    RawHeads,
)

__all__ = [
    "ALL_HORIZONS",
    "TEXT_BLOCK",
    "ConfidenceCalibration",
    "EstimatorConfig",
    "Head",
    "HorizonPrediction",
    "HorizonTargets",
    "MultiHorizonEstimator",
    "MultiHorizonPrediction",
    "NotFittedError",
    "RawHeads",
]
