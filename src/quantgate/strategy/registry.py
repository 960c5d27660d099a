"""Strategies by name: what `quantgate backtest --strategy NAME` and the engine build from.

Each entry pairs a config class (validated, hashed) with a factory. Building
goes through here so that an ensemble's members are built the same way as
top-level strategies, from their names and parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from quantgate.core.errors import ConfigurationError
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.bracket import BracketMomentumConfig, BracketMomentumStrategy
from quantgate.strategy.ensemble import EnsembleConfig, EnsembleStrategy
from quantgate.strategy.mean_reversion import MeanReversionConfig, MeanReversionStrategy
from quantgate.strategy.ml_signal import MLSignalConfig, MLSignalStrategy
from quantgate.strategy.momentum import MomentumConfig, MomentumStrategy
from quantgate.strategy.pairs import PairsConfig, PairsTradingStrategy


@dataclass(frozen=True, slots=True)
class StrategySpec:
    name: str
    strategy_type: type[Strategy[Any]]
    config_type: type[StrategyConfig]
    factory: Callable[[Any], Strategy[Any]]
    summary: str


def _build_ensemble(config: EnsembleConfig) -> EnsembleStrategy:
    members = [build_strategy(member.strategy, member.params) for member in config.members]
    return EnsembleStrategy(config, members)


_SPECS: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "momentum",
            MomentumStrategy,
            MomentumConfig,
            MomentumStrategy,
            "lookback return or moving-average crossover beyond a threshold",
        ),
        StrategySpec(
            "mean_reversion",
            MeanReversionStrategy,
            MeanReversionConfig,
            MeanReversionStrategy,
            "z-score of price against its rolling mean, entry and exit bands",
        ),
        StrategySpec(
            "bracket_momentum",
            BracketMomentumStrategy,
            BracketMomentumConfig,
            BracketMomentumStrategy,
            "momentum entries with stop-loss, take-profit and optional trailing stop",
        ),
        StrategySpec(
            "ensemble",
            EnsembleStrategy,
            EnsembleConfig,
            _build_ensemble,
            "weighted average of member strategies' targets",
        ),
        StrategySpec(
            "pairs",
            PairsTradingStrategy,
            PairsConfig,
            PairsTradingStrategy,
            "spread z-score of Engle–Granger cointegrated pairs, both legs together",
        ),
        StrategySpec(
            "ml_signal",
            MLSignalStrategy,
            MLSignalConfig,
            MLSignalStrategy,
            "model predictions that clear confidence and cost hurdles, sized by edge over vol",
        ),
    )
}


def strategy_names() -> tuple[str, ...]:
    return tuple(_SPECS)


def strategy_spec(name: str) -> StrategySpec:
    spec = _SPECS.get(name)
    if spec is None:
        raise ConfigurationError(
            f"unknown strategy {name!r}",
            field="strategy",
            fix=f"use one of: {', '.join(_SPECS)}",
        )
    return spec


def strategy_config(name: str, params: Mapping[str, Any] | None = None) -> StrategyConfig:
    """Validate `params` for strategy `name`; errors name the field and the fix."""
    spec = strategy_spec(name)
    # parse() is typed on the base class but returns an instance of config_type.
    return cast(
        StrategyConfig, spec.config_type.parse(dict(params or {}), where=f"strategy.{name}")
    )


def resolved_params(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every parameter of strategy `name` as it will run (defaults filled in, values in
    their field's type), an ensemble's members' own parameters resolved too: two spellings
    of one configuration give one dict."""
    config = strategy_config(name, params)
    resolved: dict[str, Any] = config.model_dump(mode="json")
    if isinstance(config, EnsembleConfig):
        resolved["members"] = [
            {**member, "params": resolved_params(member["strategy"], member["params"])}
            for member in resolved["members"]
        ]
    return resolved


def required_symbols(name: str, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Symbols strategy `name` needs fed, with an ensemble's members' needs included."""
    config = strategy_config(name, params)
    needed = list(config.required_symbols())
    if isinstance(config, EnsembleConfig):
        for member in config.members:
            needed.extend(required_symbols(member.strategy, member.params))
    return tuple(dict.fromkeys(needed))


def build_strategy(
    name: str, params: Mapping[str, Any] | StrategyConfig | None = None
) -> Strategy[Any]:
    """A fresh strategy `name` from a config object or a mapping of its parameters."""
    spec = strategy_spec(name)
    if isinstance(params, StrategyConfig):
        if not isinstance(params, spec.config_type):
            raise ConfigurationError(
                f"strategy {name!r} takes {spec.config_type.__name__}, got {type(params).__name__}",
                field="strategy",
            )
        config = params
    else:
        config = strategy_config(name, params)
    return spec.factory(config)
