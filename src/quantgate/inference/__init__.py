"""Inference (layer 8): ONNX Runtime sessions of the active registry versions, the feature
rows they score, the multi-horizon predictor and the shadow log."""

from quantgate.inference.config import ServingConfig
from quantgate.inference.predictor import (
    LiquidPrediction,
    LiquidPredictor,
    NoFeatureRowError,
    UnknownSymbolError,
)
from quantgate.inference.runtime import ServingRuntime, ServingStartupError

__all__ = [
    "LiquidPrediction",
    "LiquidPredictor",
    "NoFeatureRowError",
    "ServingConfig",
    "ServingRuntime",
    "ServingStartupError",
    "UnknownSymbolError",
]
