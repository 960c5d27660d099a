"""The risk gate: every order is checked, every decision recorded, switches persisted."""

from quantgate.risk.config import RiskLimits
from quantgate.risk.context import Holding, Quote, RiskContext
from quantgate.risk.decision import RiskDecision, Verdict
from quantgate.risk.gate import RiskGate
from quantgate.risk.state import RiskEvent, RiskStatus

__all__ = [
    "Holding",
    "Quote",
    "RiskContext",
    "RiskDecision",
    "RiskEvent",
    "RiskGate",
    "RiskLimits",
    "RiskStatus",
    "Verdict",
]
