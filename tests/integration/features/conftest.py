"""A small synthetic lake (3 symbols x 60 days of hourly bars and a few texts a day)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from features_lake import HOURS, START, SYMBOLS

from quantgate.features import FeatureBuilder, FeaturesConfig
from quantgate.features.fixtures import write_synthetic_lake
from quantgate.storage.lake import Lake


@pytest.fixture
def make_lake(tmp_path: Path) -> Callable[..., Lake]:
    def make(name: str = "lake", hours: int = HOURS, **kwargs: object) -> Lake:
        lake = Lake(tmp_path / name)
        write_synthetic_lake(lake, SYMBOLS, START, hours, **kwargs)  # type: ignore[arg-type]
        return lake

    return make


@pytest.fixture
def config() -> FeaturesConfig:
    return FeaturesConfig(embedder="hashing")


@pytest.fixture
def builder(
    make_lake: Callable[..., Lake], tmp_path: Path, config: FeaturesConfig
) -> FeatureBuilder:
    return FeatureBuilder(make_lake(), tmp_path / "state", config)
