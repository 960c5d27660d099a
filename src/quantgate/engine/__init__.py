"""The one engine: a single event loop for backtest, paper and live (see engine.loop).

Backtest, paper and live differ only in the Clock, MarketFeed and Broker plugged into
`TradingLoop` (engine.ports); engine.backtest writes backtest run folders, engine.live
wires paper and live sessions.
"""

from quantgate.engine.backtest import (
    Backtest,
    BacktestConfig,
    BacktestResult,
    find_run,
    list_runs,
    resume_backtest,
    run_backtest,
)
from quantgate.engine.config import EngineConfig
from quantgate.engine.feeds import FrameBarFeed, LakeBarFeed, QueueFeed
from quantgate.engine.live import SessionConfig, SourcePoller, TradingSession
from quantgate.engine.loop import TradingLoop
from quantgate.engine.portfolio_state import PortfolioState
from quantgate.engine.ports import MarketEvent, MarketFeed
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.engine.trials import run_trials
from quantgate.engine.validation import WalkForwardConfig, validate_artifacts

__all__ = [
    "Backtest",
    "BacktestConfig",
    "BacktestResult",
    "EngineConfig",
    "FastSimulatedBroker",
    "FrameBarFeed",
    "LakeBarFeed",
    "MarketEvent",
    "MarketFeed",
    "PortfolioState",
    "QueueFeed",
    "SessionConfig",
    "SourcePoller",
    "TradingLoop",
    "TradingSession",
    "WalkForwardConfig",
    "find_run",
    "list_runs",
    "resume_backtest",
    "run_backtest",
    "run_trials",
    "validate_artifacts",
]
