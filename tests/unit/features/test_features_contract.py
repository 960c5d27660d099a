"""The feature contract: width, order, and a hash that moves with every block definition."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from quantgate.features import CONTRACT, FeaturesConfig, feature_contract
from quantgate.features.blocks import default_units
from quantgate.features.contract import MIN_WIDTH, FeatureContract
from quantgate.features.units import Unit


def test_width_and_blocks() -> None:
    assert CONTRACT.width >= MIN_WIDTH
    assert list(CONTRACT.blocks) == [
        "market",
        "cross_asset",
        "calendar",
        "social_text_latent",
        "market_latent",
    ]
    assert sum(CONTRACT.blocks.values()) == CONTRACT.width
    assert CONTRACT.blocks["social_text_latent"] >= 384
    assert len(set(CONTRACT.names)) == CONTRACT.width
    assert all(spec.dtype == "float32" for spec in CONTRACT.specs)


def test_hash_is_sha256_of_the_canonical_spec_list() -> None:
    payload = [[s.name, s.block, s.dtype, s.version] for s in CONTRACT.specs]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert CONTRACT.contract_hash == hashlib.sha256(text.encode()).hexdigest()


def test_default_contract_is_the_default_config_contract() -> None:
    assert feature_contract(FeaturesConfig()).contract_hash == CONTRACT.contract_hash
    assert feature_contract().names == CONTRACT.names


@pytest.mark.parametrize("unit_index", range(len(default_units(FeaturesConfig()))))
def test_changing_any_block_definition_changes_the_hash(unit_index: int) -> None:
    units = default_units(FeaturesConfig())
    changed = units[unit_index]
    original = type(changed).params

    def altered(self: Unit) -> dict[str, Any]:
        return {**original(self), "a_window": 999}  # type: ignore[arg-type]

    patched = type(f"Altered{type(changed).__name__}", (type(changed),), {"params": altered})
    units[unit_index] = patched(FeaturesConfig())  # type: ignore[call-arg]
    assert FeatureContract.from_units(units).contract_hash != CONTRACT.contract_hash


@pytest.mark.parametrize("unit_index", range(len(default_units(FeaturesConfig()))))
def test_bumping_a_block_version_changes_the_hash(unit_index: int) -> None:
    units = default_units(FeaturesConfig())
    units[unit_index].version += 1
    assert FeatureContract.from_units(units).contract_hash != CONTRACT.contract_hash


@pytest.mark.parametrize(
    "change",
    [
        {"decision_delay_seconds": 120},
        {"max_fill_hours": 5},
        {"min_window_coverage": 0.9},
        {"embedder": "hashing"},
        {"embedder": "minilm"},
        {"embedder": "minilm-onnx"},
        {"embedder": "minilm", "embedding_precision": "bfloat16"},
        {"embedding_max_tokens": 128},
        {"social_half_life_hours": 6.0},
        {"social_embedding_window_hours": 48},
        {"latent_components": 8},
        {"reference_symbol": "ETHUSDT"},
        {"buckets": {"BTC": "meme"}},
    ],
)
def test_definition_settings_change_the_hash(change: dict[str, Any]) -> None:
    assert feature_contract(FeaturesConfig(**change)).contract_hash != CONTRACT.contract_hash


@pytest.mark.parametrize(
    "change",
    [{"embedding_batch_size": 16}, {"lookahead_cut_points": 3}, {"latent_fit_fraction": 0.5}],
)
def test_operational_settings_keep_the_hash(change: dict[str, Any]) -> None:
    assert feature_contract(FeaturesConfig(**change)).contract_hash == CONTRACT.contract_hash


def test_latent_width_follows_the_component_count() -> None:
    contract = feature_contract(FeaturesConfig(latent_components=4))
    assert contract.blocks["market_latent"] == 5  # 4 components + reconstruction error
