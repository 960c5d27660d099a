"""The pluggable units feature blocks are made of.

A *unit* produces some columns of one block. Four kinds, by what they read:

- `BarUnit`: per symbol, from its hourly bar grid (and the reference symbol's
  close on the same grid). Values are computed per grid row and must only use
  rows at or before it; the pipeline maps them to decision times through the
  anchor bar. `reach` is how many rows back a value may look.
- `AsofUnit`: per symbol, per decision time, from what is known at that time
  (anchor, listing, texts with available_at <= asof).
- `PanelUnit`: per decision time across symbols, from other units' values at
  the same decision time (cross-sectional ranks, relative returns).
- `LatentUnit`: the market latent, a fitted transform of the market block.

Each unit has a name, the contract block its columns belong to, a version and
its parameters; the contract hashes the version and the parameters into every
column's spec, so any change of definition changes `contract_hash`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import polars as pl

from quantgate.config.base import canonical_json
from quantgate.features.ops import Float32Array, FloatArray, IntArray
from quantgate.features.series import BarGrid, TextSeries

MAIN_DATASET = "feature_snapshots_main"
SOCIAL_DATASET = "social_text_latent"
LATENT_DATASET = "market_latent"
FEATURE_DATASETS = (MAIN_DATASET, SOCIAL_DATASET, LATENT_DATASET)


class Unit(ABC):
    name: str = ""
    block: str = ""
    version: int = 1
    dataset: str = MAIN_DATASET

    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """Output column names, in contract order."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Everything that defines the values (windows, lookbacks, pipeline settings)."""

    @property
    def definition_digest(self) -> str:
        payload = {
            "unit": self.name,
            "block": self.block,
            "version": self.version,
            "params": self.params(),
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    @property
    def spec_version(self) -> str:
        """The `version` recorded in each FeatureSpec: unit version + definition digest."""
        return f"{self.version}.{self.definition_digest[:16]}"


class BarUnit(Unit):
    reach: int = 1

    @abstractmethod
    def compute(self, grid: BarGrid) -> dict[str, FloatArray]:
        """One float64 array per column, aligned to the grid rows."""


@dataclass(frozen=True, eq=False)
class AsofContext:
    """What an asof-level unit may read for one symbol at its decision times."""

    symbol: str
    asofs: IntArray
    anchor: IntArray  # open time of the anchor bar, NONE_TIME when no bar is known
    listing: IntArray  # open time of the first known bar, NONE_TIME when none
    texts: TextSeries
    embeddings: Float32Array  # rows indexed by texts.embedding_rows


class AsofUnit(Unit):
    reads_texts: bool = False

    @abstractmethod
    def compute(self, context: AsofContext) -> dict[str, FloatArray]:
        """One float64 array per column, aligned to context.asofs."""


class PanelUnit(Unit):
    @abstractmethod
    def inputs(self) -> tuple[str, ...]:
        """Columns of other units this one reads at the same decision time."""

    @abstractmethod
    def compute(self, panel: pl.DataFrame) -> pl.DataFrame:
        """`panel` has symbol, asof, bucket, in_universe, is_reference and the inputs;
        return symbol, asof and this unit's columns for every panel row."""


class LatentUnit(Unit):
    dataset = LATENT_DATASET

    @abstractmethod
    def input_block(self) -> str:
        """The block whose columns the latent is fitted on."""
