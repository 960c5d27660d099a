"""The market latent: PCA of the standardised market block, fitted on a declared window only.

`MarketLatent.fit(frame, start, end)` uses only rows with start <= asof < end;
the fitted object (means, scales, components, window, sizes) serialises to JSON
(`to_dict` / `from_dict`) with a `fit_hash`, so the model layer stores it with
the model that uses it and transforms inference rows with exactly the same
numbers. Missing inputs are imputed with the fit mean (0 after scaling), and
`mlat_recon_err` (mean squared residual of the standardised row) says how well
the row is represented.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantgate.config.base import canonical_json
from quantgate.core.errors import DataError
from quantgate.features.blocks.market import pipeline_params
from quantgate.features.config import FeaturesConfig
from quantgate.features.ops import FloatArray
from quantgate.features.units import LatentUnit

LATENT_PREFIX = "mlat_"
RECONSTRUCTION = "mlat_recon_err"
_MIN_FIT_ROWS = 50


def latent_columns(n_components: int) -> tuple[str, ...]:
    return (*(f"{LATENT_PREFIX}{i:02d}" for i in range(n_components)), RECONSTRUCTION)


@dataclass(frozen=True, eq=False)
class MarketLatent:
    input_columns: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    components: FloatArray  # (n_components, n_inputs), rows orthonormal
    explained_variance_ratio: FloatArray
    fit_start: datetime
    fit_end: datetime
    fit_rows: int
    contract_hash: str

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    @property
    def columns(self) -> tuple[str, ...]:
        return latent_columns(self.n_components)

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        input_columns: tuple[str, ...],
        n_components: int,
        fit_start: datetime,
        fit_end: datetime,
        contract_hash: str,
    ) -> MarketLatent:
        """Fit on the rows of `frame` with fit_start <= asof < fit_end (nothing else is read)."""
        window = frame.filter((pl.col("asof") >= fit_start) & (pl.col("asof") < fit_end))
        if window.height < max(_MIN_FIT_ROWS, n_components + 1):
            raise DataError(
                f"market latent fit window [{fit_start.isoformat()}, {fit_end.isoformat()}) holds "
                f"{window.height} rows; at least {max(_MIN_FIT_ROWS, n_components + 1)} needed",
                field="latent_fit_start/latent_fit_end",
                fix="widen the fit window or build features for more history",
            )
        values = _matrix(window, input_columns)
        present = np.isfinite(values)
        count = present.sum(axis=0)
        filled = np.where(present, values, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            # a column may have no value in the window (e.g. a 90-day return, short history)
            mean = filled.sum(axis=0) / count
            mean = np.where(np.isfinite(mean), mean, 0.0)
            np.subtract(filled, mean, out=filled)
            filled[~present] = 0.0
            scale = np.sqrt((filled**2).sum(axis=0) / count)
        del filled, present
        scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
        standard = _standardise(values, mean, scale)
        # PCA through the eigen-decomposition of the (inputs x inputs) covariance: the
        # same components as an SVD of the rows, at a fraction of the cost.
        covariance = (standard.T @ standard) / standard.shape[0]
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues = np.maximum(eigenvalues[order], 0.0)
        k = min(n_components, eigenvalues.shape[0])
        components = eigenvectors[:, order[:k]].T
        # Fix each component's sign (largest loading positive) so refits are comparable.
        signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
        components = components * np.where(signs == 0, 1.0, signs)[:, None]
        total = float(eigenvalues.sum())
        ratio = eigenvalues[:k] / total if total > 0 else np.zeros(k)
        if k < n_components:
            pad = np.zeros((n_components - k, components.shape[1]))
            components = np.vstack([components, pad])
            ratio = np.concatenate([ratio, np.zeros(n_components - k)])
        return cls(
            input_columns,
            mean.astype(np.float64),
            scale.astype(np.float64),
            components.astype(np.float64),
            ratio.astype(np.float64),
            fit_start,
            fit_end,
            int(window.height),
            contract_hash,
        )

    def transform_matrix(self, values: FloatArray) -> FloatArray:
        standard = _standardise(values, self.mean, self.scale)
        scores = standard @ self.components.T
        residual = standard - scores @ self.components
        error = np.mean(residual**2, axis=1)
        return np.column_stack([scores, error]).astype(np.float64)

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The latent columns for every row of `frame` (which must hold the input columns)."""
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"market latent inputs missing: {missing[:5]}", field=missing[0])
        out = self.transform_matrix(_matrix(frame, self.input_columns))
        return pl.DataFrame({name: out[:, i] for i, name in enumerate(self.columns)})

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pca",
            "input_columns": list(self.input_columns),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "components": self.components.tolist(),
            "explained_variance_ratio": self.explained_variance_ratio.tolist(),
            "fit_start": self.fit_start.isoformat(),
            "fit_end": self.fit_end.isoformat(),
            "fit_rows": self.fit_rows,
            "contract_hash": self.contract_hash,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> MarketLatent:
        return cls(
            tuple(payload["input_columns"]),
            np.asarray(payload["mean"], dtype=np.float64),
            np.asarray(payload["scale"], dtype=np.float64),
            np.asarray(payload["components"], dtype=np.float64),
            np.asarray(payload["explained_variance_ratio"], dtype=np.float64),
            datetime.fromisoformat(payload["fit_start"]),
            datetime.fromisoformat(payload["fit_end"]),
            int(payload["fit_rows"]),
            str(payload["contract_hash"]),
        )

    @property
    def fit_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def _matrix(frame: pl.DataFrame, columns: tuple[str, ...]) -> FloatArray:
    """Float32-rounded inputs (as stored in the lake) widened to float64, NaN for missing."""
    selected = frame.select(pl.col(c).cast(pl.Float32).cast(pl.Float64) for c in columns)
    return np.asarray(selected.to_numpy(), dtype=np.float64)


def _standardise(values: FloatArray, mean: FloatArray, scale: FloatArray) -> FloatArray:
    standard = (values - mean) / scale
    standard[~np.isfinite(standard)] = 0.0
    return standard


class MarketLatentUnit(LatentUnit):
    name = "market_latent"
    block = "market_latent"
    version = 1

    def __init__(self, config: FeaturesConfig) -> None:
        self.config = config
        self.n_components = config.latent_components

    def input_block(self) -> str:
        return "market"

    def params(self) -> dict[str, Any]:
        return {
            "pipeline": pipeline_params(self.config),
            "method": "pca_svd_standardised_mean_imputed",
            "n_components": self.n_components,
            "inputs": "market block (float32 as stored)",
            "sign": "largest loading positive",
        }

    def columns(self) -> tuple[str, ...]:
        return latent_columns(self.n_components)
