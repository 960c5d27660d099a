"""Exported ONNX artifacts reproduce the native models in real ONNX Runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError
from quantgate.ml.estimators.base import MultiHorizonEstimator
from quantgate.ml.estimators.lgbm import LightGBMConfig, LightGBMEstimator
from quantgate.ml.estimators.multimodal import MultimodalConfig, MultimodalEstimator
from quantgate.ml.estimators.prediction import Head
from quantgate.ml.estimators.synthetic import SyntheticSet, planted_signal
from quantgate.ml.export.loader import (
    ArtifactIntegrityError,
    ContractMismatchError,
    OnnxMultiHorizonModel,
)
from quantgate.ml.export.metadata import Provenance, TimeWindow, sha256_file
from quantgate.ml.export.naming import METADATA_FILE, MODEL_FILE, output_names
from quantgate.ml.export.writer import export_model

TOLERANCE = 1e-5
FIELDS = ("expected_return", "vol_forecast", "direction_score", "signal_confidence")
CONTRACT_HASH = "c0ffee" * 10 + "cafe"
CALIBRATION = ([0.5, 0.55, 0.7, 1.0], [0.5, 0.52, 0.6, 0.66])

AnyEstimator = MultiHorizonEstimator[Any]


def provenance() -> Provenance:
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
        seed=17,
        metrics={"ic_1h": 0.04, "sharpe": {"oos": 1.2}},
        n_trials=25,
    )


def lightgbm() -> LightGBMEstimator:
    # More trees than TREES_PER_CHUNK, so the regressors take the split path.
    return LightGBMEstimator(
        LightGBMConfig(n_estimators=60, num_leaves=8, min_data_in_leaf=20, num_threads=1)
    )


def multimodal() -> MultimodalEstimator:
    return MultimodalEstimator(
        MultimodalConfig(
            market_hidden=32,
            market_embedding=8,
            text_hidden=16,
            text_embedding=8,
            fusion_hidden=16,
            max_epochs=3,
            batch_size=256,
            num_threads=1,
        )
    )


@pytest.fixture(scope="module")
def data() -> SyntheticSet:
    return planted_signal(2_500, n_market=20, n_text=12, seed=8)


@pytest.fixture(scope="module")
def holdout(data: SyntheticSet) -> np.ndarray:
    rows = data.features[2_000:].copy()
    rows[:20] = np.nan  # rows with nothing known
    return rows


@pytest.fixture(scope="module", params=[lightgbm, multimodal], ids=["lightgbm", "multimodal"])
def exported(
    request: pytest.FixtureRequest,
    data: SyntheticSet,
    holdout: np.ndarray,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[AnyEstimator, Path]:
    train = data.rows(slice(0, 2_000))
    estimator: AnyEstimator = request.param()
    estimator.fit(
        train.features, train.targets, feature_names=train.feature_names, blocks=train.blocks
    )
    estimator.set_confidence_calibration(Horizon.H4, *CALIBRATION)
    folder = tmp_path_factory.mktemp(estimator.kind) / "artifact"
    export_model(estimator, folder, provenance(), probe_rows=holdout[:200])
    return estimator, folder


def test_onnx_runtime_matches_the_native_model(
    exported: tuple[AnyEstimator, Path], holdout: np.ndarray
) -> None:
    estimator, folder = exported
    native = estimator.predict(holdout)
    served = OnnxMultiHorizonModel(folder).predict(holdout)
    assert served.horizons == native.horizons == tuple(Horizon)
    for horizon in Horizon:
        for field in FIELDS:
            np.testing.assert_allclose(
                getattr(served[horizon], field),
                getattr(native[horizon], field),
                rtol=0,
                atol=TOLERANCE,
                err_msg=f"{horizon} {field}",
            )


def test_graph_layout(exported: tuple[AnyEstimator, Path]) -> None:
    estimator, folder = exported
    session = ort.InferenceSession(str(folder / MODEL_FILE), providers=["CPUExecutionProvider"])
    (features,) = session.get_inputs()
    assert features.name == "features" and features.type == "tensor(float)"
    assert features.shape[1] == estimator.n_features_in_ and isinstance(features.shape[0], str)
    outputs = session.get_outputs()
    assert [o.name for o in outputs] == output_names(tuple(Horizon))
    assert all(o.type == "tensor(float)" and len(o.shape) == 1 for o in outputs)


def test_metadata_records_provenance_outputs_and_digests(
    exported: tuple[AnyEstimator, Path],
) -> None:
    estimator, folder = exported
    raw = json.loads((folder / METADATA_FILE).read_text())
    model = OnnxMultiHorizonModel(folder)
    meta = model.metadata
    assert meta.contract_hash == CONTRACT_HASH == model.contract_hash
    assert meta.feature_names == estimator.feature_names_
    assert meta.horizons == tuple(Horizon)
    assert meta.seed == 17 and meta.n_trials == 25 and meta.git_sha == "a" * 40
    assert meta.estimator.kind == estimator.kind
    assert meta.estimator.config_hash == estimator.config.config_hash
    assert raw["train_window"]["start"].startswith("2024-01-01T00:00:00")
    assert raw["metrics"]["sharpe"] == {"oos": 1.2}
    assert raw["calibration"]["4h"] == {"knots_x": CALIBRATION[0], "knots_y": CALIBRATION[1]}
    assert [f.file for f in meta.files] == [MODEL_FILE]
    assert meta.files[0].sha256 == sha256_file(folder / MODEL_FILE)
    assert {(o.horizon, o.head) for o in meta.outputs} == {
        (h, head) for h in Horizon for head in Head
    }
    assert meta.parity is not None and meta.parity.max_abs_error <= TOLERANCE


def test_loader_refuses_a_different_contract_or_altered_bytes(
    exported: tuple[AnyEstimator, Path], tmp_path: Path, holdout: np.ndarray
) -> None:
    _, folder = exported
    with pytest.raises(ContractMismatchError):
        OnnxMultiHorizonModel(folder, expected_contract_hash="f" * 64)
    model = OnnxMultiHorizonModel(folder, expected_contract_hash=CONTRACT_HASH)
    with pytest.raises(DataError, match=f"expected width {holdout.shape[1]}"):
        model.predict(holdout[:, 1:])
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / METADATA_FILE).write_bytes((folder / METADATA_FILE).read_bytes())
    payload = bytearray((folder / MODEL_FILE).read_bytes())
    payload[-1] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(payload))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        OnnxMultiHorizonModel(copy)
    (copy / METADATA_FILE).write_text('{"format_version": 1}')
    with pytest.raises(ArtifactIntegrityError, match="not a valid artifact"):
        OnnxMultiHorizonModel(copy)


def test_export_is_byte_reproducible_and_never_overwrites(
    exported: tuple[AnyEstimator, Path], tmp_path: Path
) -> None:
    estimator, folder = exported
    with pytest.raises(DataError, match="immutable"):
        export_model(estimator, folder, provenance())
    # Same model, same bytes: the registry stores artifacts by sha256.
    again = export_model(estimator, tmp_path / "again", provenance())
    assert again.files[0].sha256 == sha256_file(folder / MODEL_FILE)


def test_lightgbm_thresholds_between_adjacent_float32_values_agree(tmp_path: Path) -> None:
    # Regression: with rounded-to-nearest float32 thresholds, ONNX disagreed with
    # LightGBM by ~1.0 on features one ulp apart.
    rng = np.random.default_rng(4)
    one = np.float32(1.0)
    grid = one + np.arange(60, dtype=np.float32) * np.spacing(one)
    data = planted_signal(1_500, n_market=6, n_text=4, seed=4)
    features = data.features.copy()
    features[:, :6] = rng.choice(grid, size=(1_500, 6))
    estimator = LightGBMEstimator(
        LightGBMConfig(n_estimators=30, min_data_in_leaf=10, num_threads=1, horizons=(Horizon.H1,))
    )
    estimator.fit(features, data.targets, feature_names=data.feature_names, blocks=data.blocks)
    export_model(estimator, tmp_path / "a", provenance())
    native = estimator.raw_heads(features)[Horizon.H1]
    served = OnnxMultiHorizonModel(tmp_path / "a").raw_heads(features)[Horizon.H1]
    for head in Head:
        np.testing.assert_allclose(served[head], native[head], rtol=0, atol=TOLERANCE)


def test_serving_imports_neither_lightgbm_nor_torch(exported: tuple[AnyEstimator, Path]) -> None:
    _, folder = exported
    script = (
        "import json, sys\n"
        "import numpy as np\n"
        "from quantgate.ml.export.loader import OnnxMultiHorizonModel\n"
        f"model = OnnxMultiHorizonModel({str(folder)!r})\n"
        "prediction = model.predict(np.zeros((3, model.n_features_in), dtype=np.float32))\n"
        "assert prediction.n_rows == 3\n"
        "heavy = ('lightgbm', 'torch', 'onnxmltools', 'onnxscript', 'sklearn')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
