"""validate-asof and lookahead: pass on the real blocks, catch and name a planted leak."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from features_lake import HOURS, START, SYMBOLS, CanaryUnit

from quantgate.features import (
    MAIN_DATASET,
    FeatureBuilder,
    FeaturesConfig,
    lookahead,
    validate_asof,
)
from quantgate.features.blocks import default_units
from quantgate.features.fixtures import write_synthetic_lake
from quantgate.features.store import read_dataset
from quantgate.storage.lake import Lake


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> FeatureBuilder:
    root = tmp_path_factory.mktemp("clean")
    lake = Lake(root / "lake")
    write_synthetic_lake(lake, SYMBOLS, START, HOURS)
    builder = FeatureBuilder(lake, root / "state", FeaturesConfig(embedder="hashing"))
    builder.build()
    return builder


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> FeatureBuilder:
    root = tmp_path_factory.mktemp("leaky")
    lake = Lake(root / "lake")
    write_synthetic_lake(lake, SYMBOLS, START, HOURS)
    config = FeaturesConfig(embedder="hashing")
    builder = FeatureBuilder(
        lake, root / "state", config, units=[*default_units(config), CanaryUnit()]
    )
    builder.build()
    return builder


def test_validate_asof_passes_on_clean_features(clean: FeatureBuilder) -> None:
    report = validate_asof(clean)
    assert report["passed"], report
    assert report["future_leakage_count"] == 0
    assert report["snapshot_time_consistency"] == 1.0
    assert report["provenance_mismatch_count"] == 0
    assert report["rows_checked"] == report["rows_total"] == len(SYMBOLS) * HOURS
    assert report["feature_leads"] == {}
    assert all(report["probes"][kind] > 0 for kind in ("bar", "text", "panel"))


def test_lookahead_passes_on_clean_features(clean: FeatureBuilder) -> None:
    report = lookahead(clean, cut_points=6)
    assert report["passed"], report["examples"]
    assert report["biased_feature_count"] == 0
    assert report["rows_compared"] == 6 * len(SYMBOLS)
    assert report["values_compared"] == 6 * len(SYMBOLS) * clean.contract.width


def test_validate_asof_catches_the_canary(leaky: FeatureBuilder) -> None:
    report = validate_asof(leaky)
    assert not report["passed"]
    assert report["feature_leads"] == {"canary_next_ret_1h": 1}
    assert list(report["leaking_features"]) == ["canary_next_ret_1h"]
    # every row but the last of each symbol has a next bar to peek at
    assert report["future_leakage_count"] == len(SYMBOLS) * (HOURS - 1)


def test_lookahead_catches_the_canary(leaky: FeatureBuilder) -> None:
    report = lookahead(leaky, cut_points=6)
    assert not report["passed"]
    assert list(report["biased_features"]) == ["canary_next_ret_1h"]
    assert report["examples"][0]["feature"] == "canary_next_ret_1h"


def test_a_missing_snapshot_breaks_time_consistency(
    make_lake: Callable[..., Lake], tmp_path: Path
) -> None:
    builder = FeatureBuilder(make_lake(), tmp_path / "state", FeaturesConfig(embedder="hashing"))
    builder.build()
    stored = read_dataset(builder.lake, MAIN_DATASET, ["ETHUSDT"])
    hole = stored["asof"][700]
    for ref in builder.lake.partitions(MAIN_DATASET, ["ETHUSDT"]):
        ref.path.unlink()
    builder.lake.upsert(
        MAIN_DATASET,
        stored.filter(pl.col("asof") != hole),
        key=["symbol", "asof"],
        time_column="asof",
    )
    report = validate_asof(builder)
    assert not report["passed"]
    assert report["snapshot_time_consistency"] < 1.0
    assert report["datasets"][MAIN_DATASET]["snapshot_time_consistency"] == pytest.approx(
        1 - 1 / (len(SYMBOLS) * HOURS), abs=1e-6
    )


def test_a_tampered_provenance_is_reported(make_lake: Callable[..., Lake], tmp_path: Path) -> None:
    builder = FeatureBuilder(make_lake(), tmp_path / "state", FeaturesConfig(embedder="hashing"))
    builder.build()
    stored = read_dataset(builder.lake, MAIN_DATASET, ["SOLUSDT"])
    tampered = stored.with_columns(
        pl.when(pl.col("asof") == stored["asof"][300])
        .then(pl.col("asof") + pl.duration(minutes=30))
        .otherwise(pl.col("max_input_available_at"))
        .alias("max_input_available_at")
    )
    builder.lake.upsert(MAIN_DATASET, tampered, key=["symbol", "asof"], time_column="asof")
    report = validate_asof(builder)
    assert report["future_leakage_count"] == 1
    assert report["provenance_mismatch_count"] == 1
    assert not report["passed"]


def test_sampling_is_stated(clean: FeatureBuilder) -> None:
    report = validate_asof(clean, sample_rows=1000, seed=3)
    assert report["sampled"] and report["sample_rows"] == 1000 and report["rows_checked"] == 1000
    assert report["passed"]


def test_lookahead_beyond_the_warm_up_window(
    make_lake: Callable[..., Lake], tmp_path: Path
) -> None:
    """With more history than the warm-up window, a cut-point recomputation sees only the
    window: every value (listing age included) must still equal the full-history one."""
    lake = make_lake(hours=24 * 140, posts_per_day=1.0, comments_per_post=1.0)
    builder = FeatureBuilder(lake, tmp_path / "state", FeaturesConfig(embedder="hashing"))
    builder.build()
    assert builder.pipeline.warmup_bars + 200 < 24 * 140
    report = lookahead(builder, cut_points=3, seed=11)
    late = [c for c in report["cut_points"] if c > "2021-04-20"]
    assert late, report["cut_points"]
    assert report["passed"], report["examples"]
