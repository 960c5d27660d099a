"""Write a fitted estimator as an ONNX artifact: model.onnx + metadata.json.

    metadata = export_model(estimator, folder, provenance, probe_rows=X_holdout[:2048])

The converter for an estimator is chosen by its `kind` and imported only then,
so exporting a LightGBM model never imports torch and vice versa. With
`probe_rows`, the written graph is run in ONNX Runtime and compared with the
native model before the metadata is written: an artifact that disagrees with
the model it came from is never produced.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import ArrayLike

from quantgate.core.errors import DataError, ProgrammerError
from quantgate.ml.estimators.base import MultiHorizonEstimator
from quantgate.ml.estimators.inputs import check_features
from quantgate.ml.estimators.prediction import Head
from quantgate.ml.export.metadata import (
    ArtifactMetadata,
    CalibrationKnots,
    EstimatorInfo,
    GraphFile,
    InputSpec,
    OutputSpec,
    ParityCheck,
    Provenance,
    sha256_bytes,
    write_atomically,
)
from quantgate.ml.export.naming import (
    BATCH_DIM,
    HEAD_MEANING,
    INPUT_NAME,
    METADATA_FILE,
    MODEL_FILE,
    output_name,
    output_names,
)

_CONVERTERS = {
    "lightgbm": "quantgate.ml.export.lgbm_onnx",
    "multimodal": "quantgate.ml.export.torch_onnx",
}
DEFAULT_PARITY_TOLERANCE = 1e-5


class ExportParityError(ProgrammerError):
    """The ONNX graph does not reproduce the native model."""


def export_model(
    estimator: MultiHorizonEstimator[Any],
    directory: Path,
    provenance: Provenance,
    *,
    probe_rows: ArrayLike | None = None,
    parity_tolerance: float = DEFAULT_PARITY_TOLERANCE,
) -> ArtifactMetadata:
    """Write `directory`/model.onnx and metadata.json; refuse to overwrite an artifact."""
    if not estimator.is_fitted:
        raise ProgrammerError("cannot export an unfitted estimator")
    if (directory / METADATA_FILE).exists():
        raise DataError(
            f"{directory} already holds a model artifact; artifacts are immutable",
            fix="export into a new folder",
        )
    converter = _converter(estimator.kind)
    model: onnx.ModelProto = converter.to_onnx(estimator)
    payload = model.SerializeToString(deterministic=True)
    parity = (
        None
        if probe_rows is None
        else _check_parity(estimator, payload, probe_rows, parity_tolerance)
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(directory / MODEL_FILE, payload)
    metadata = _metadata(estimator, provenance, payload, converter.producers(), parity)
    metadata.write(directory / METADATA_FILE)
    return metadata


def _converter(kind: str) -> Any:
    if kind not in _CONVERTERS:
        raise ProgrammerError(f"no ONNX converter for estimator kind {kind!r}")
    return importlib.import_module(_CONVERTERS[kind])


def _check_parity(
    estimator: MultiHorizonEstimator[Any], payload: bytes, probe_rows: ArrayLike, tolerance: float
) -> ParityCheck:
    features = check_features(probe_rows, estimator.n_features_in_)
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    names = output_names(estimator.horizons_)
    onnx_outputs = dict(zip(names, session.run(names, {INPUT_NAME: features}), strict=True))
    native = estimator.raw_heads(features)
    worst = 0.0
    for horizon, heads in native.items():
        for head in Head:
            difference = np.abs(onnx_outputs[output_name(horizon, head)] - heads[head])
            worst = max(worst, float(difference.max(initial=0.0)))
    if not worst <= tolerance:  # also catches NaN
        raise ExportParityError(
            f"ONNX output differs from the native model by {worst:.3g} > {tolerance:.3g} "
            f"on {features.shape[0]} probe rows"
        )
    return ParityCheck(rows=int(features.shape[0]), max_abs_error=worst, tolerance=tolerance)


def _metadata(
    estimator: MultiHorizonEstimator[Any],
    provenance: Provenance,
    payload: bytes,
    producers: dict[str, str],
    parity: ParityCheck | None,
) -> ArtifactMetadata:
    horizons = estimator.horizons_
    outputs = tuple(
        OutputSpec(
            name=output_name(horizon, head),
            horizon=horizon,
            head=head,
            shape=(BATCH_DIM,),
            meaning=HEAD_MEANING[head],
        )
        for horizon in horizons
        for head in Head
    )
    return ArtifactMetadata(
        contract_hash=provenance.contract_hash,
        horizons=horizons,
        feature_names=estimator.feature_names_,
        blocks=dict(estimator.blocks_),
        train_window=provenance.train_window,
        test_window=provenance.test_window,
        data_manifest_hash=provenance.data_manifest_hash,
        git_sha=provenance.git_sha,
        config_hash=provenance.config_hash,
        seed=provenance.seed,
        metrics=provenance.metrics,
        n_trials=provenance.n_trials,
        estimator=EstimatorInfo(
            kind=estimator.kind,
            config_hash=estimator.config.config_hash,
            config=estimator.config.model_dump(mode="json"),
        ),
        input=InputSpec(name=INPUT_NAME, shape=(BATCH_DIM, estimator.n_features_in_)),
        outputs=outputs,
        calibration={
            horizon: CalibrationKnots(knots_x=table.knots_x, knots_y=table.knots_y)
            for horizon, table in estimator.calibrations_.items()
        },
        files=(
            GraphFile(
                file=MODEL_FILE,
                sha256=sha256_bytes(payload),
                size_bytes=len(payload),
                outputs=tuple(spec.name for spec in outputs),
            ),
        ),
        producers={**producers, "onnxruntime": ort.__version__, "numpy": np.__version__},
        parity=parity,
    )
