"""Multimodal network → ONNX via torch.export (`torch.onnx.export(..., dynamo=True)`).

The exported module is the estimator's network itself, whose forward already
standardises raw features (NaN → 0, clip, missing fractions) and maps outputs
back to raw units, so the graph takes the contract's raw float32 features.
The dynamo exporter is used because the TorchScript one is deprecated; it
needs `onnxscript`. The batch axis is dynamic.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import onnx
import torch

from quantgate.core.errors import ProgrammerError
from quantgate.ml.estimators.base import MultiHorizonEstimator
from quantgate.ml.estimators.multimodal import MultimodalEstimator
from quantgate.ml.estimators.torch_training import torch_session
from quantgate.ml.export.naming import BATCH_DIM, INPUT_NAME, output_names

DEFAULT_OPSET = 18


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs a warning per optional torchvision op it cannot register and
    emits deprecation chatter from its dependencies; none of it concerns this model."""
    exporter_logger = logging.getLogger("torch.onnx")
    previous = exporter_logger.level
    exporter_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        exporter_logger.setLevel(previous)


def to_onnx(
    estimator: MultiHorizonEstimator[Any], *, opset: int = DEFAULT_OPSET
) -> onnx.ModelProto:
    if not isinstance(estimator, MultimodalEstimator):
        raise ProgrammerError(f"torch_onnx cannot export {type(estimator).__name__}")
    network = estimator.network_.eval()
    # Two example rows: torch.export specialises a dimension of size 0 or 1.
    example = torch.zeros((2, estimator.n_features_in_), dtype=torch.float32)
    batch = torch.export.Dim(BATCH_DIM)
    with torch_session(threads=estimator.config.num_threads), _quiet_exporter():
        program = torch.onnx.export(
            network,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=output_names(estimator.horizons_),
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            optimize=True,
            verbose=False,
        )
    if program is None:
        raise ProgrammerError("torch.onnx.export returned no program")
    model: onnx.ModelProto = program.model_proto
    model.producer_name = "quantgate"
    model.producer_version = f"torch-{torch.__version__}"
    onnx.checker.check_model(model, full_check=True)
    return model


def producers() -> dict[str, str]:
    import onnxscript

    return {
        "torch": torch.__version__,
        "onnxscript": onnxscript.__version__,
        "onnx": onnx.__version__,
    }
