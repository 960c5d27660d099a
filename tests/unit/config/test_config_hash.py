import subprocess
import sys
from typing import Any

import pytest

from quantgate.config import ComponentConfig
from quantgate.core import ConfigurationError


class SampleConfig(ComponentConfig):
    lookback: int = 24
    threshold: float = 0.5
    name: str = "momentum"
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    enabled: bool = True


CHANGED: dict[str, Any] = {
    "lookback": 25,
    "threshold": 0.5000001,
    "name": "momentum2",
    "symbols": ("BTCUSDT",),
    "enabled": False,
}


def test_every_field_is_covered_by_the_test() -> None:
    assert set(CHANGED) == set(SampleConfig.model_fields)


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_changing_any_field_changes_the_hash(field: str) -> None:
    base = SampleConfig()
    changed = SampleConfig(**{field: CHANGED[field]})
    assert changed.config_hash != base.config_hash


def test_hash_is_stable_across_processes() -> None:
    code = (
        "from quantgate.config import ComponentConfig\n"
        "class SampleConfig(ComponentConfig):\n"
        "    lookback: int = 24\n    threshold: float = 0.5\n    name: str = 'momentum'\n"
        "    symbols: tuple[str, ...] = ('BTCUSDT', 'ETHUSDT')\n    enabled: bool = True\n"
        "print(SampleConfig().config_hash)\n"
    )
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert hashes == {SampleConfig().config_hash}
    assert len(SampleConfig().config_hash) == 64


def test_configs_are_frozen_and_strict() -> None:
    config = SampleConfig()
    with pytest.raises(Exception, match="frozen"):
        config.lookback = 3  # type: ignore[misc]
    with pytest.raises(ConfigurationError) as error:
        SampleConfig.parse({"lookbak": 3}, where="strategy.momentum")
    assert error.value.field == "strategy.momentum.lookbak"
    assert "Fix: remove this key" in str(error.value)


def test_same_values_different_kind_differ() -> None:
    class OtherConfig(SampleConfig):
        pass

    assert OtherConfig().config_hash != SampleConfig().config_hash
