"""The model artifact's metadata (DESIGN §3.4), written as JSON next to the ONNX file(s).

`Provenance` is what the training pipeline knows and the estimator does not
(contract hash, windows, data manifest, git SHA, run config hash, seed,
metrics, number of trials); `ArtifactMetadata` adds what the export knows
(feature order, graph input/outputs, calibration tables, file digests).
Every file is listed with its sha256 so the registry, and the loader, can
verify the bytes they are about to run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

from quantgate.core.enums import Horizon
from quantgate.ml.estimators.prediction import ConfidenceCalibration, Head

FORMAT_VERSION = 1
_HASH_CHUNK = 1 << 20


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeWindow(_Frozen):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


class Provenance(_Frozen):
    """What the training pipeline supplies about the run that produced the model."""

    contract_hash: str = Field(min_length=1)
    train_window: TimeWindow
    test_window: TimeWindow
    data_manifest_hash: str = Field(min_length=1)
    git_sha: str = Field(min_length=1)
    config_hash: str = Field(min_length=1)  # of the training run's config
    seed: int
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    n_trials: int = Field(ge=1)


class InputSpec(_Frozen):
    name: str
    dtype: Literal["float32"] = "float32"
    shape: tuple[str, int]  # (batch dimension name, feature width)


class OutputSpec(_Frozen):
    name: str
    horizon: Horizon
    head: Head
    dtype: Literal["float32"] = "float32"
    shape: tuple[str] = ("batch",)
    meaning: str


class GraphFile(_Frozen):
    file: str  # relative to the metadata file's folder
    sha256: str
    size_bytes: int
    outputs: tuple[str, ...]


class CalibrationKnots(_Frozen):
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]

    def to_calibration(self) -> ConfidenceCalibration:
        return ConfidenceCalibration(self.knots_x, self.knots_y)


class EstimatorInfo(_Frozen):
    kind: str
    config_hash: str
    config: dict[str, JsonValue]


class ParityCheck(_Frozen):
    """Native vs ONNX Runtime on probe rows at export time."""

    rows: int
    max_abs_error: float
    tolerance: float


class ArtifactMetadata(_Frozen):
    format_version: int = FORMAT_VERSION
    contract_hash: str
    horizons: tuple[Horizon, ...]
    feature_names: tuple[str, ...]
    blocks: dict[str, tuple[int, ...]]
    train_window: TimeWindow
    test_window: TimeWindow
    data_manifest_hash: str
    git_sha: str
    config_hash: str
    seed: int
    metrics: dict[str, JsonValue]
    n_trials: int
    estimator: EstimatorInfo
    input: InputSpec
    outputs: tuple[OutputSpec, ...]
    calibration: dict[Horizon, CalibrationKnots]
    files: tuple[GraphFile, ...]
    producers: dict[str, str]
    parity: ParityCheck | None = None

    def write(self, path: Path) -> None:
        write_atomically(path, self.model_dump_json(indent=2).encode() + b"\n")

    @classmethod
    def read(cls, path: Path) -> ArtifactMetadata:
        return cls.model_validate_json(path.read_bytes())


def sha256_bytes(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, payload: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
