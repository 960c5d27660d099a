"""Training loop for the multimodal network: masked multi-task loss, Adam, early stopping.

Reproducibility: every fit runs inside `torch_session`, which seeds torch,
turns on deterministic algorithms and fixes the CPU thread count, then restores
the caller's global torch state (RNG, determinism flag, threads) so fitting a
model has no side effect on the rest of the process.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from quantgate.ml.estimators.inputs import Float32Array, FloatArray
from quantgate.ml.estimators.multimodal_net import MultimodalNet

PREDICT_BATCH = 65_536


def as_tensor(array: Float32Array) -> Tensor:
    """A tensor sharing `array`'s memory, read-only inputs included.

    torch warns on read-only arrays (e.g. views of Arrow/Parquet buffers) because
    writing through the tensor would be undefined; nothing here writes to
    inputs, and copying a 600k × 565 matrix just to silence it would cost 1.3 GB.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


@contextmanager
def torch_session(*, threads: int, seed: int | None = None) -> Iterator[None]:
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        try:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(True)
            if seed is not None:
                torch.manual_seed(seed)
            yield
        finally:
            torch.use_deterministic_algorithms(previous_deterministic)
            torch.set_num_threads(previous_threads)


@dataclass(frozen=True, slots=True)
class LossWeights:
    expected_return: float
    log_vol: float
    direction: float
    huber_delta: float  # in standard deviations of the return target


@dataclass(frozen=True, slots=True)
class LoopSettings:
    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    grad_clip: float
    seed: int


@dataclass(frozen=True, slots=True)
class TrainingRows:
    """Raw features, standardised targets (N, H, 3) with NaN where unknown, row weights."""

    features: Float32Array
    targets: Float32Array
    weight: Float32Array

    def __len__(self) -> int:
        return int(self.features.shape[0])


@dataclass(slots=True)
class TrainingHistory:
    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def multitask_loss(heads: Tensor, targets: Tensor, weight: Tensor, weights: LossWeights) -> Tensor:
    """Weighted mean over horizons of the three per-target losses, each averaged over the
    rows whose target is known (NaN targets contribute nothing, not a zero)."""
    known = ~torch.isnan(targets)
    filled = torch.where(known, targets, torch.zeros_like(targets))
    per_element = torch.stack(
        [
            nn.functional.huber_loss(
                heads[..., 0], filled[..., 0], reduction="none", delta=weights.huber_delta
            ),
            nn.functional.mse_loss(heads[..., 1], filled[..., 1], reduction="none"),
            nn.functional.binary_cross_entropy_with_logits(
                heads[..., 2], filled[..., 2], reduction="none"
            ),
        ],
        dim=-1,
    )
    mass = known.to(heads.dtype) * weight[:, None, None]
    per_target = (per_element * mass).sum(dim=0) / mass.sum(dim=0).clamp_min(1e-12)  # (H, 3)
    head_weights = torch.tensor(
        [weights.expected_return, weights.log_vol, weights.direction], dtype=heads.dtype
    )
    return (per_target * head_weights).sum(dim=1).mean()


def _evaluate(net: MultimodalNet, rows: TrainingRows, weights: LossWeights) -> float:
    net.eval()
    total, mass = 0.0, 0.0
    with torch.no_grad():
        for start in range(0, len(rows), PREDICT_BATCH):
            batch = slice(start, start + PREDICT_BATCH)
            heads = net.standardised_heads(as_tensor(rows.features[batch]))
            loss = multitask_loss(
                heads,
                torch.from_numpy(rows.targets[batch]),
                torch.from_numpy(rows.weight[batch]),
                weights,
            )
            size = float(rows.weight[batch].sum())
            total, mass = total + float(loss) * size, mass + size
    return total / mass if mass > 0 else float("nan")


def train_network(
    net: MultimodalNet,
    fit_rows: TrainingRows,
    valid_rows: TrainingRows | None,
    settings: LoopSettings,
    weights: LossWeights,
) -> TrainingHistory:
    """Train in place and leave `net` at its best validation epoch (or the last one)."""
    optimizer = torch.optim.Adam(
        net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    order = torch.Generator().manual_seed(settings.seed)
    features = as_tensor(fit_rows.features)
    targets = torch.from_numpy(fit_rows.targets)
    weight = torch.from_numpy(fit_rows.weight)
    history = TrainingHistory()
    best_loss, best_state, stale = float("inf"), copy.deepcopy(net.state_dict()), 0
    for epoch in range(settings.max_epochs):
        net.train()
        epoch_loss, batches = 0.0, 0
        permutation = torch.randperm(len(fit_rows), generator=order)
        for start in range(0, len(fit_rows), settings.batch_size):
            batch = permutation[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            heads = net.standardised_heads(features[batch])
            loss = multitask_loss(heads, targets[batch], weight[batch], weights)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(net.parameters(), settings.grad_clip)
            optimizer.step()
            epoch_loss, batches = epoch_loss + float(loss.detach()), batches + 1
        history.train_loss.append(epoch_loss / max(batches, 1))
        if valid_rows is None:
            history.best_epoch = epoch
            continue
        valid_loss = _evaluate(net, valid_rows, weights)
        history.valid_loss.append(valid_loss)
        if valid_loss < best_loss:
            best_loss, best_state, stale = valid_loss, copy.deepcopy(net.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            if stale >= settings.patience:
                break
    if valid_rows is not None:
        net.load_state_dict(best_state)
    net.eval()
    return history


def predict_network(net: MultimodalNet, features: Float32Array) -> list[FloatArray]:
    """The network's forward outputs (3 per horizon) as float64 arrays."""
    net.eval()
    chunks: list[tuple[Tensor, ...]] = []
    with torch.inference_mode():
        for start in range(0, features.shape[0], PREDICT_BATCH):
            chunks.append(net(as_tensor(features[start : start + PREDICT_BATCH])))
    if not chunks:
        return [np.zeros(0) for _ in range(3 * len(net.heads))]
    return [
        torch.cat([chunk[i] for chunk in chunks]).numpy().astype(np.float64)
        for i in range(len(chunks[0]))
    ]
