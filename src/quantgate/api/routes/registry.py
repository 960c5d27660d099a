"""`/api/v2/models/liquid/registry`: read the registry; move aliases with the operator token.

Each write applies the move to the running service before answering, so the next
prediction already uses the new version.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from quantgate.api.deps import Operator, Services
from quantgate.api.errors import ApiError, error_responses
from quantgate.api.schemas import (
    SYMBOL_PATTERN,
    ActivateRequest,
    AliasOut,
    PromoteRequest,
    RegisterCandidateOut,
    RegisterCandidateRequest,
    RegisteredOut,
    RegistryOut,
    RollbackRequest,
    RuleCheckOut,
    TransitionOut,
    VersionOut,
)
from quantgate.core.enums import Horizon
from quantgate.registry import Transition
from quantgate.registry.runs import register_from_run

router = APIRouter(prefix="/api/v2/models/liquid/registry", tags=["registry"])
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 415, 422)


def _who(actor: str | None, role: str) -> str:
    return f"api:{actor or role}"


def transition_out(transition: Transition) -> TransitionOut:
    checks = [] if transition.report is None else list(transition.report.checks)
    return TransitionOut(
        action=transition.action,
        symbol=transition.symbol,
        horizon=transition.horizon,
        alias=transition.alias,
        from_version=transition.from_version,
        to_version=transition.to_version,
        changed=transition.changed,
        forced=transition.forced,
        refused=transition.refused,
        checks=[
            RuleCheckOut(
                rule=c.rule, value=c.value, op=c.op, threshold=c.threshold, verdict=c.verdict
            )
            for c in checks
        ],
        audit_id=transition.audit_id,
    )


def _applied(services: Services, transition: Transition) -> TransitionOut:
    out = transition_out(transition)
    if transition.refused:
        raise ApiError(
            409,
            "rules_not_met",
            f"{transition.action} of {transition.symbol} {transition.horizon} refused: "
            "promotion rules not met",
            fix="improve the model, or force with a reason",
            detail=out.model_dump(mode="json"),
        )
    if transition.changed:
        services.refresh_models()
    return out


@router.get("", response_model=RegistryOut, responses=error_responses(422))
def registry_view(
    services: Services,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    horizon: Horizon | None = None,
) -> RegistryOut:
    h = None if horizon is None else horizon.value
    states = services.registry.aliases(symbol, h)
    by_version: dict[str, list[str]] = {}
    for state in states:
        by_version.setdefault(state.version_id, []).append(state.alias)
    return RegistryOut(
        versions=[
            VersionOut(
                version_id=v.version_id,
                symbol=v.symbol,
                horizon=v.horizon,
                artifact_digest=v.artifact_digest,
                contract_hash=v.contract_hash,
                source_run_id=v.source_run_id,
                created_at=v.created_at,
                created_by=v.created_by,
                aliases=sorted(by_version.get(v.version_id, [])),
                evaluation=v.evaluation,
            )
            for v in services.registry.versions(symbol, h)
        ],
        aliases=[AliasOut(**state.to_dict()) for state in states],
    )


@router.post("/candidate", response_model=RegisterCandidateOut, responses=WRITE_ERRORS)
def register_candidate(
    services: Services, role: Operator, body: RegisterCandidateRequest
) -> RegisterCandidateOut:
    results, source = register_from_run(
        services.registry,
        services.registry.engine,
        body.run_id,
        body.symbol,
        None if body.horizon is None else body.horizon.value,
        actor=_who(body.actor, role),
        reason=body.reason,
    )
    return RegisterCandidateOut(
        run_id=str(source["run_id"]),
        registered=[
            RegisteredOut(
                symbol=item["symbol"],
                horizon=item["horizon"],
                version_id=item.get("to_version"),
                created=item.get("created"),
                error=item.get("error"),
            )
            for item in results
        ],
    )


@router.post("/promote-candidate", response_model=TransitionOut, responses=WRITE_ERRORS)
def promote_candidate(services: Services, role: Operator, body: PromoteRequest) -> TransitionOut:
    transition = services.registry.promote(
        body.symbol,
        body.horizon,
        actor=_who(body.actor, role),
        reason=body.reason,
        force=body.force,
    )
    return _applied(services, transition)


@router.post("/activate", response_model=TransitionOut, responses=WRITE_ERRORS)
def activate(services: Services, role: Operator, body: ActivateRequest) -> TransitionOut:
    transition = services.registry.activate(
        body.version_id, actor=_who(body.actor, role), reason=body.reason, force=body.force
    )
    return _applied(services, transition)


@router.post("/rollback", response_model=TransitionOut, responses=WRITE_ERRORS)
def rollback(services: Services, role: Operator, body: RollbackRequest) -> TransitionOut:
    transition = services.registry.rollback(
        body.symbol, body.horizon, actor=_who(body.actor, role), reason=body.reason
    )
    return _applied(services, transition)
