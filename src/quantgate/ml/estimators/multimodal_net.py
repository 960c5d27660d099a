"""The multimodal network: market encoder + text encoder → fused trunk → per-horizon heads.

The module carries its own input standardisation and output de-standardisation
as buffers, so `forward` maps raw float32 features to raw-unit forecasts. That
is exactly what is exported to ONNX: the runtime feeds the contract's raw
features and needs no scaler of its own.

Input handling, in order: z = (x - mean) / std; each encoder also gets the
fraction of its block's columns that are NaN (a row without social posts looks
very different from one with); NaN → 0 (the training mean); clip to ±clip so a
single extreme value cannot saturate the first layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from quantgate.ml.estimators.inputs import FloatArray, IndexArray

N_HEADS = 3  # per horizon: return, log-vol, direction logit


@dataclass(frozen=True, slots=True)
class NetShape:
    """Layer widths; `text_*` are unused when the model has no text block."""

    market_hidden: int
    market_embedding: int
    text_hidden: int
    text_embedding: int
    fusion_hidden: int
    dropout: float
    input_clip: float


@dataclass(frozen=True, slots=True)
class Scaling:
    """Fitted input and target scaling (float64, converted to float32 buffers)."""

    feature_mean: FloatArray  # (F,)
    feature_std: FloatArray  # (F,)
    target_mean: FloatArray  # (H, 2): return, log-vol
    target_std: FloatArray  # (H, 2)


def _encoder(n_inputs: int, hidden: int, embedding: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_inputs, hidden),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, embedding),
        nn.GELU(),
    )


class MultimodalNet(nn.Module):
    mean: Tensor
    inv_std: Tensor
    market_index: Tensor
    text_index: Tensor
    target_mean: Tensor
    target_std: Tensor

    def __init__(
        self,
        *,
        market_columns: IndexArray,
        text_columns: IndexArray,
        n_horizons: int,
        shape: NetShape,
        scaling: Scaling,
    ) -> None:
        super().__init__()
        self.clip = float(shape.input_clip)
        self.has_text = bool(text_columns.size)
        self.register_buffer("mean", _f32(scaling.feature_mean))
        self.register_buffer("inv_std", _f32(1.0 / scaling.feature_std))
        self.register_buffer("market_index", torch.as_tensor(market_columns, dtype=torch.int64))
        self.register_buffer("text_index", torch.as_tensor(text_columns, dtype=torch.int64))
        self.register_buffer("target_mean", _f32(scaling.target_mean))
        self.register_buffer("target_std", _f32(scaling.target_std))
        # +1 input per encoder: its block's missing fraction.
        self.market_encoder = _encoder(
            market_columns.size + 1, shape.market_hidden, shape.market_embedding, shape.dropout
        )
        fused_width = shape.market_embedding
        if self.has_text:
            self.text_encoder = _encoder(
                text_columns.size + 1, shape.text_hidden, shape.text_embedding, shape.dropout
            )
            fused_width += shape.text_embedding
        self.fusion = nn.Sequential(
            nn.Linear(fused_width, shape.fusion_hidden), nn.GELU(), nn.Dropout(shape.dropout)
        )
        self.heads = nn.ModuleList(
            [nn.Linear(shape.fusion_hidden, N_HEADS) for _ in range(n_horizons)]
        )

    def _encoded_block(self, z: Tensor, missing: Tensor, index: Tensor) -> Tensor:
        block = torch.index_select(z, 1, index)
        fraction = torch.index_select(missing, 1, index).to(z.dtype).mean(dim=1, keepdim=True)
        return torch.cat([block, fraction], dim=1)

    def standardised_heads(self, features: Tensor) -> Tensor:
        """(N, H, 3): return and log-vol in standardised units, direction as a logit."""
        missing = torch.isnan(features)
        z = (features - self.mean) * self.inv_std
        z = torch.where(missing, torch.zeros_like(z), z).clamp(-self.clip, self.clip)
        parts = [self.market_encoder(self._encoded_block(z, missing, self.market_index))]
        if self.has_text:
            parts.append(self.text_encoder(self._encoded_block(z, missing, self.text_index)))
        hidden = self.fusion(torch.cat(parts, dim=1))
        return torch.stack([head(hidden) for head in self.heads], dim=1)

    def forward(self, features: Tensor) -> tuple[Tensor, ...]:
        """Per horizon, in order: expected return, log-vol, P(return > 0); each (N,)."""
        heads = self.standardised_heads(features)
        outputs: list[Tensor] = []
        for h in range(len(self.heads)):
            outputs.append(heads[:, h, 0] * self.target_std[h, 0] + self.target_mean[h, 0])
            outputs.append(heads[:, h, 1] * self.target_std[h, 1] + self.target_mean[h, 1])
            outputs.append(torch.sigmoid(heads[:, h, 2]))
        return tuple(outputs)


def _f32(values: FloatArray | Sequence[float]) -> Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))
