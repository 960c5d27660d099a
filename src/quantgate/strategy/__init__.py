"""Strategies: turn bars and predictions into signals (targets), with no I/O."""

from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.bracket import BracketMomentumConfig, BracketMomentumStrategy
from quantgate.strategy.cointegration import EngleGrangerResult, engle_granger
from quantgate.strategy.ensemble import EnsembleConfig, EnsembleMember, EnsembleStrategy
from quantgate.strategy.mean_reversion import MeanReversionConfig, MeanReversionStrategy
from quantgate.strategy.ml_signal import MLSignalConfig, MLSignalStrategy
from quantgate.strategy.momentum import MomentumConfig, MomentumStrategy
from quantgate.strategy.pairs import PairsConfig, PairsTradingStrategy
from quantgate.strategy.registry import (
    StrategySpec,
    build_strategy,
    strategy_config,
    strategy_names,
    strategy_spec,
)

__all__ = [
    "BracketMomentumConfig",
    "BracketMomentumStrategy",
    "EngleGrangerResult",
    "EnsembleConfig",
    "EnsembleMember",
    "EnsembleStrategy",
    "MLSignalConfig",
    "MLSignalStrategy",
    "MeanReversionConfig",
    "MeanReversionStrategy",
    "MomentumConfig",
    "MomentumStrategy",
    "PairsConfig",
    "PairsTradingStrategy",
    "Strategy",
    "StrategyConfig",
    "StrategySpec",
    "build_strategy",
    "engle_granger",
    "strategy_config",
    "strategy_names",
    "strategy_spec",
]
