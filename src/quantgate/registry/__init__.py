"""Model registry (layer 7): immutable model versions in a content-addressed store,
per (symbol, horizon) aliases `active` / `candidate` / `shadow`, audited transitions
(register-candidate, promote, activate, rollback), inference bundles, and
`ActiveModels`, which the inference runtime polls to follow alias moves without a restart.
"""

from quantgate.registry.errors import (
    MissingEvaluationError,
    RegistryUsageError,
    UnknownVersionError,
)
from quantgate.registry.rules import PromotionReport, PromotionRules, RuleCheck
from quantgate.registry.service import (
    ACTIVE,
    ALIASES,
    CANDIDATE,
    SHADOW,
    AliasState,
    ModelVersion,
    Registry,
    Transition,
)
from quantgate.registry.store import ArtifactStore

__all__ = [
    "ACTIVE",
    "ALIASES",
    "CANDIDATE",
    "SHADOW",
    "AliasState",
    "ArtifactStore",
    "MissingEvaluationError",
    "ModelVersion",
    "PromotionReport",
    "PromotionRules",
    "Registry",
    "RegistryUsageError",
    "RuleCheck",
    "Transition",
    "UnknownVersionError",
]
