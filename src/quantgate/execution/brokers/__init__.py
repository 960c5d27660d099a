"""Brokers behind one port: the simulated broker here, venue brokers in adapters/<venue>/."""

from quantgate.execution.brokers.base import (
    Broker,
    BrokerError,
    FillBatch,
    OrderState,
    SubmitOutcome,
    SubmitResult,
    TimeInForce,
)
from quantgate.execution.brokers.sim import SimulatedBroker

__all__ = [
    "Broker",
    "BrokerError",
    "FillBatch",
    "OrderState",
    "SimulatedBroker",
    "SubmitOutcome",
    "SubmitResult",
    "TimeInForce",
]
