"""Gates: one check per readiness phase, each a typed result (passed, figures, reasons)."""

from quantgate.gates.profitability import (
    ProfitabilityResult,
    ProfitabilityThresholds,
    evaluate_profitability,
)

__all__ = ["ProfitabilityResult", "ProfitabilityThresholds", "evaluate_profitability"]
