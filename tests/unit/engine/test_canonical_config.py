"""A backtest's config hash changes with what changes its results and with nothing else,
also for an ensemble's members (a default given explicitly, or 24.0 for 24, was another
hash: the grid's duplicate check and the trial count missed them)."""

from __future__ import annotations

from typing import Any

import pytest
from engine_builders import config

from quantgate.core import ConfigurationError
from quantgate.engine.backtest import BacktestConfig
from quantgate.engine.trials import canonical, grid_configs


def ensemble(momentum_params: dict[str, Any]) -> BacktestConfig:
    values = config(["AAA"]).model_dump(mode="json")
    values["strategy"] = "ensemble"
    values["params"] = {
        "members": [
            {"strategy": "momentum", "weight": 0.6, "params": momentum_params},
            {"strategy": "mean_reversion", "weight": 0.4},
        ]
    }
    parsed = BacktestConfig.parse(values)
    assert isinstance(parsed, BacktestConfig)
    return parsed


@pytest.mark.parametrize("spelling", [{"lookback": 24}, {"lookback": 24.0}])
def test_an_ensemble_member_spelt_with_its_defaults_is_the_same_configuration(
    spelling: dict[str, Any],
) -> None:
    plain = canonical(ensemble({}))
    spelt = canonical(ensemble(spelling))
    other = canonical(ensemble({"lookback": 30}))
    assert spelt.config_hash == plain.config_hash
    assert other.config_hash != plain.config_hash
    assert plain.params["members"][0]["params"]["lookback"] == 24


def test_a_grid_over_ensemble_spellings_of_one_configuration_is_refused() -> None:
    base = ensemble({})
    with pytest.raises(ConfigurationError, match="same configuration"):
        grid_configs(base, [{"min_change": 0.0}, {"min_change": 0}])
