"""The feature layer's configuration, and the symbol → bucket mapping.

Two kinds of field live here. *Definition* fields change what a feature value
means (decision delay, fill limit, windows, the embedder); the blocks copy them
into their parameters, so they are part of the contract hash. *Operational*
fields (batch sizes, threads, sample sizes, the latent fit window) change how
the work is done or which model-side fit is stored, never a column's meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.core.buckets import DEFAULT_BUCKETS, base_asset, bucket_of
from quantgate.core.enums import Bucket


class FeaturesConfig(ComponentConfig):
    # --- definition (part of the contract hash through the blocks' parameters) ---
    # asof = bar close + this delay; the hourly decision grid sits at HH:00 + delay.
    decision_delay_seconds: int = Field(60, ge=0, lt=3600)
    # Longest gap (hours) bridged by carrying the last close forward, and the longest
    # time a row may reuse its last bar before market values become missing (NaN).
    max_fill_hours: int = Field(3, ge=0, le=48)
    # Share of a rolling window that must hold data for the statistic to be given.
    min_window_coverage: float = Field(0.8, gt=0.0, le=1.0)
    # Bars source; None = per symbol, the source holding the most bars (reported).
    bar_source: str | None = None
    # Symbol whose bars the beta / relative-return features use; None = the BTC symbol.
    reference_symbol: str | None = None
    buckets: dict[str, Bucket] = Field(default_factory=lambda: dict(DEFAULT_BUCKETS))
    # all-MiniLM-L6-v2 on ONNX Runtime, int8 ("minilm-onnx-int8") or float32
    # ("minilm-onnx"); on sentence-transformers/torch ("minilm"); or "hashing" (no model).
    embedder: Literal["minilm-onnx-int8", "minilm-onnx", "minilm", "hashing"] = "minilm-onnx-int8"
    # float32 or bfloat16 autocast; bfloat16 applies to the torch embedder ("minilm") only.
    embedding_precision: Literal["float32", "bfloat16"] = "float32"
    embedding_max_tokens: int = Field(256, ge=16, le=512)
    social_half_life_hours: float = Field(12.0, gt=0.0)
    social_embedding_window_hours: int = Field(72, ge=1, le=720)
    social_recency_cap_hours: int = Field(720, ge=24, le=2160)
    latent_components: int = Field(16, ge=1, le=64)

    # --- operational (not part of the contract) ---
    embedding_batch_size: int = Field(128, ge=1, le=4096)
    embedding_threads: int | None = Field(None, ge=1)
    # market_latent fit window [start, end); unset = the first `latent_fit_fraction`
    # of the history the first full build sees. The window is recorded with the fit.
    latent_fit_start: datetime | None = None
    latent_fit_end: datetime | None = None
    latent_fit_fraction: float = Field(0.6, gt=0.0, lt=1.0)
    validate_sample_rows: int = Field(0, ge=0)  # 0 = every row
    lookahead_cut_points: int = Field(24, ge=1, le=1000)
    seed: int = Field(7, ge=0)

    @field_validator("buckets", mode="before")
    @classmethod
    def _upper_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).upper(): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _fit_window_is_ordered(self) -> FeaturesConfig:
        start, end = self.latent_fit_start, self.latent_fit_end
        for name, moment in (("latent_fit_start", start), ("latent_fit_end", end)):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")
        if start is not None and end is not None and start >= end:
            raise ValueError("latent_fit_start must be before latent_fit_end")
        return self

    @model_validator(mode="after")
    def _precision_fits_the_embedder(self) -> FeaturesConfig:
        if self.embedding_precision == "bfloat16" and self.embedder != "minilm":
            raise ValueError(
                f"embedding_precision bfloat16 applies to the 'minilm' (torch) embedder only, "
                f"not {self.embedder!r}"
            )
        return self

    def bucket_of(self, symbol: str) -> Bucket:
        return bucket_of(symbol, self.buckets)

    def resolve_reference(self, symbols: list[str] | tuple[str, ...]) -> str | None:
        """The configured reference symbol, else the first symbol whose base is BTC."""
        if self.reference_symbol is not None:
            return self.reference_symbol
        for symbol in sorted(symbols):
            if base_asset(symbol) == "BTC":
                return symbol
        return None
