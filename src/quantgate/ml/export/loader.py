"""Run an exported model with ONNX Runtime alone: `OnnxMultiHorizonModel(path).predict(X)`.

Importing this module loads onnxruntime, NumPy and pydantic, never LightGBM or
torch (the serving side must not need them; a test checks sys.modules). The
loader refuses an artifact whose files do not match their recorded sha256, or
whose feature contract differs from the one the caller runs, and returns the
same MultiHorizonPrediction as the native estimator, post-processed by the
same NumPy function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import ArrayLike
from pydantic import ValidationError

from quantgate.core.enums import Horizon
from quantgate.core.errors import ConfigurationError, DataError
from quantgate.ml.estimators.inputs import check_features
from quantgate.ml.estimators.prediction import (
    ConfidenceCalibration,
    Head,
    MultiHorizonPrediction,
    RawHeads,
    assemble_prediction,
)
from quantgate.ml.export.metadata import FORMAT_VERSION, ArtifactMetadata, sha256_bytes
from quantgate.ml.export.naming import INPUT_NAME, METADATA_FILE, output_name


def _read_metadata(path: Path) -> ArtifactMetadata:
    if not path.is_file():
        raise ArtifactIntegrityError(f"no {METADATA_FILE} at {path.parent}", source=str(path))
    try:
        return ArtifactMetadata.read(path)
    except ValidationError as error:
        raise ArtifactIntegrityError(
            f"metadata is not a valid artifact description: {error.error_count()} problems, "
            f"first: {error.errors()[0]['msg']}",
            source=str(path),
        ) from None


class ArtifactIntegrityError(DataError):
    """An artifact file is missing or its bytes differ from the recorded sha256."""


class ContractMismatchError(ConfigurationError):
    """The model was trained on a different feature contract than the caller runs."""


@dataclass(frozen=True, slots=True)
class _Graph:
    session: ort.InferenceSession
    outputs: tuple[str, ...]


class OnnxMultiHorizonModel:
    """An exported multi-horizon model, ready to predict on raw float32 features."""

    def __init__(
        self,
        path: Path | str,
        *,
        expected_contract_hash: str | None = None,
        intra_op_threads: int = 1,
    ) -> None:
        metadata_path = Path(path)
        if metadata_path.is_dir():
            metadata_path = metadata_path / METADATA_FILE
        metadata = _read_metadata(metadata_path)
        if metadata.format_version != FORMAT_VERSION:
            raise ConfigurationError(
                f"artifact format {metadata.format_version} is not supported "
                f"(this build reads {FORMAT_VERSION})"
            )
        if expected_contract_hash is not None and metadata.contract_hash != expected_contract_hash:
            raise ContractMismatchError(
                f"model feature contract {metadata.contract_hash[:12]}… differs from the "
                f"runtime's {expected_contract_hash[:12]}…",
                fix="serve a model trained on the current feature contract",
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self.metadata = metadata
        self._graphs = tuple(
            _Graph(
                self._open(metadata_path.parent, entry.file, entry.sha256, options), entry.outputs
            )
            for entry in metadata.files
        )
        self._calibrations = {
            horizon: table.to_calibration() for horizon, table in metadata.calibration.items()
        }

    @staticmethod
    def _open(
        folder: Path, name: str, sha256: str, options: ort.SessionOptions
    ) -> ort.InferenceSession:
        file = folder / name
        if not file.is_file():
            raise ArtifactIntegrityError(f"artifact file {name} is missing", source=str(folder))
        payload = file.read_bytes()
        if sha256_bytes(payload) != sha256:
            raise ArtifactIntegrityError(
                f"sha256 of {name} does not match its metadata; the file was altered",
                source=str(folder),
            )
        return ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])

    @property
    def contract_hash(self) -> str:
        return self.metadata.contract_hash

    @property
    def horizons(self) -> tuple[Horizon, ...]:
        return self.metadata.horizons

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.metadata.feature_names

    @property
    def n_features_in(self) -> int:
        return len(self.metadata.feature_names)

    @property
    def calibrations(self) -> dict[Horizon, ConfidenceCalibration]:
        return dict(self._calibrations)

    def predict(self, X: ArrayLike) -> MultiHorizonPrediction:  # noqa: N803 - scikit-learn name
        return assemble_prediction(self.raw_heads(X), self._calibrations)

    def raw_heads(self, X: ArrayLike) -> dict[Horizon, RawHeads]:  # noqa: N803
        features = check_features(X, self.n_features_in)
        values: dict[str, np.ndarray] = {}
        if features.shape[0] == 0:
            values = {
                name: np.zeros(0, dtype=np.float32)
                for graph in self._graphs
                for name in graph.outputs
            }
        else:
            for graph in self._graphs:
                names = list(graph.outputs)
                values.update(
                    zip(names, graph.session.run(names, {INPUT_NAME: features}), strict=True)
                )
        return {
            horizon: RawHeads.from_mapping(
                {head: values[output_name(horizon, head)] for head in Head}
            )
            for horizon in self.horizons
        }
