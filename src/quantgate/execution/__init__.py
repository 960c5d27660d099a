"""Execution: costs, policies, the order gateway, the execution trace and the brokers.

One bar, as the engine drives it (backtest, paper and live alike):

    broker.on_bar(bar)                      # the simulated broker matches; live: no-op
    report = gateway.reconcile()            # new fills → outbox, reservations, trace
    ... apply report.fills to the book; strategies, allocator → targets ...
    plan = policies.plan(ExecutionIntent(...))
    schedule.add(plan)
    for child in schedule.due(clock.now()):
        gateway.submit(child, risk_context, market)   # outbox → risk gate → broker
    gateway.expire()                        # cancel passive slices past their time
"""

from quantgate.execution.brokers import (
    Broker,
    BrokerError,
    FillBatch,
    OrderState,
    SimulatedBroker,
    SubmitOutcome,
    SubmitResult,
    TimeInForce,
)
from quantgate.execution.circuit import CircuitBreaker, CircuitState
from quantgate.execution.config import (
    CircuitBreakerConfig,
    CostModelConfig,
    FeeRate,
    GatewayConfig,
    LongHorizonConfig,
    ShortHorizonConfig,
    SimBrokerConfig,
    VenueFees,
)
from quantgate.execution.costs import (
    CostBreakdown,
    CostModel,
    Liquidity,
    MarketContext,
    StandardCostModel,
)
from quantgate.execution.gateway import GatewayResult, OrderGateway, ReconcileReport, SubmitStatus
from quantgate.execution.intent import (
    ChildOrder,
    ExecutionIntent,
    ExecutionPlan,
    derive_client_order_id,
)
from quantgate.execution.outbox import OutboxOrder
from quantgate.execution.policies import (
    LONG_HORIZON_EXEC,
    SHORT_HORIZON_EXEC,
    ExecutionPolicy,
    LongHorizonExec,
    PolicyBook,
    ShortHorizonExec,
)
from quantgate.execution.risk_port import RiskPort, RiskVerdict
from quantgate.execution.schedule import ExecutionSchedule
from quantgate.execution.trace import TRACE_COLUMNS, TRACE_SCHEMA, load_trace, trace_row

__all__ = [
    "LONG_HORIZON_EXEC",
    "SHORT_HORIZON_EXEC",
    "TRACE_COLUMNS",
    "TRACE_SCHEMA",
    "Broker",
    "BrokerError",
    "ChildOrder",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitState",
    "CostBreakdown",
    "CostModel",
    "CostModelConfig",
    "ExecutionIntent",
    "ExecutionPlan",
    "ExecutionPolicy",
    "ExecutionSchedule",
    "FeeRate",
    "FillBatch",
    "GatewayConfig",
    "GatewayResult",
    "Liquidity",
    "LongHorizonConfig",
    "LongHorizonExec",
    "MarketContext",
    "OrderGateway",
    "OrderState",
    "OutboxOrder",
    "PolicyBook",
    "ReconcileReport",
    "RiskPort",
    "RiskVerdict",
    "ShortHorizonConfig",
    "ShortHorizonExec",
    "SimBrokerConfig",
    "SimulatedBroker",
    "StandardCostModel",
    "SubmitOutcome",
    "SubmitResult",
    "SubmitStatus",
    "TimeInForce",
    "VenueFees",
    "derive_client_order_id",
    "load_trace",
    "trace_row",
]
