"""SQLAlchemy models, one module per layer; each issue that adds tables adds a module here
(imported below so Alembic sees its tables) and an Alembic revision for them."""

from quantgate.storage.models.base import Base
from quantgate.storage.models.data import (
    AuditRun,
    ConfirmedSourceGap,
    DataSourceRow,
    QualityRun,
    SourceCoverageRow,
)
from quantgate.storage.models.foundation import CommandRun, InstrumentRow, JobCheckpoint
from quantgate.storage.models.ml import TrainingRun
from quantgate.storage.models.registry import (
    ModelAliasRow,
    ModelVersionRow,
    RegistryAuditRow,
    ShadowPredictionRow,
)
from quantgate.storage.models.trading import (
    ExactDecimal,
    ExecutionTraceRow,
    FillRow,
    OrderRow,
    RiskGateDecisionRow,
    RiskReservationRow,
    RiskStateEventRow,
    RiskStateRow,
)

__all__ = [
    "AuditRun",
    "Base",
    "CommandRun",
    "ConfirmedSourceGap",
    "DataSourceRow",
    "ExactDecimal",
    "ExecutionTraceRow",
    "FillRow",
    "InstrumentRow",
    "JobCheckpoint",
    "ModelAliasRow",
    "ModelVersionRow",
    "OrderRow",
    "QualityRun",
    "RegistryAuditRow",
    "RiskGateDecisionRow",
    "RiskReservationRow",
    "RiskStateEventRow",
    "RiskStateRow",
    "ShadowPredictionRow",
    "SourceCoverageRow",
    "TrainingRun",
]
