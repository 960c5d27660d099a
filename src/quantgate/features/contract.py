"""The feature contract: the one ordered list of feature columns, and its hash.

`CONTRACT` (the default configuration) and `feature_contract(config)` are the
only definitions of column order; training, the feature store and inference
all import them. A FeatureSpec is (name, block, dtype, version); `version` is
the unit's version plus the digest of its full definition (windows, lookbacks,
pipeline settings, embedder), so changing any block's definition changes
`contract_hash` = sha256 of the canonical JSON of the ordered specs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from quantgate.config.base import canonical_json
from quantgate.core.errors import ProgrammerError
from quantgate.features.blocks import default_units
from quantgate.features.config import FeaturesConfig
from quantgate.features.units import FEATURE_DATASETS, Unit

MIN_WIDTH = 528
FEATURE_DTYPE = "float32"


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    block: str
    dtype: str
    version: str

    def as_list(self) -> list[str]:
        return [self.name, self.block, self.dtype, self.version]


@dataclass(frozen=True, eq=False)
class FeatureContract:
    specs: tuple[FeatureSpec, ...]
    datasets: tuple[tuple[str, str], ...]  # (feature name, lake dataset), contract order

    @classmethod
    def from_units(cls, units: Sequence[Unit]) -> FeatureContract:
        specs: list[FeatureSpec] = []
        datasets: list[tuple[str, str]] = []
        for unit in units:
            if unit.dataset not in FEATURE_DATASETS:
                raise ProgrammerError(f"unit {unit.name} writes to unknown dataset {unit.dataset}")
            for column in unit.columns():
                specs.append(FeatureSpec(column, unit.block, FEATURE_DTYPE, unit.spec_version))
                datasets.append((column, unit.dataset))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ProgrammerError(f"feature names repeat across units: {repeated[:5]}")
        return cls(tuple(specs), tuple(datasets))

    @cached_property
    def contract_hash(self) -> str:
        payload = [spec.as_list() for spec in self.specs]
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    @property
    def width(self) -> int:
        return len(self.specs)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def blocks(self) -> dict[str, int]:
        """Block name → number of columns, in contract order."""
        widths: dict[str, int] = {}
        for spec in self.specs:
            widths[spec.block] = widths.get(spec.block, 0) + 1
        return widths

    def block_columns(self, block: str) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs if spec.block == block)

    def dataset_columns(self, dataset: str) -> tuple[str, ...]:
        return tuple(name for name, where in self.datasets if where == dataset)

    def summary(self) -> dict[str, object]:
        return {
            "width": self.width,
            "contract_hash": self.contract_hash,
            "blocks": self.blocks,
            "datasets": {d: len(self.dataset_columns(d)) for d in FEATURE_DATASETS},
            "min_width": MIN_WIDTH,
        }


def feature_contract(
    config: FeaturesConfig | None = None, units: Sequence[Unit] | None = None
) -> FeatureContract:
    """The contract of `units` (default: the production blocks of `config`)."""
    chosen = list(units) if units is not None else default_units(config or FeaturesConfig())
    return FeatureContract.from_units(chosen)


CONTRACT: FeatureContract = feature_contract()
