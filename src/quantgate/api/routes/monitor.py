"""`/api/v2/monitor/model-status`: what each (symbol, horizon) serves and since when."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from quantgate.api.deps import Services
from quantgate.api.schemas import ModelStatusOut, ModelStatusReport
from quantgate.registry import ACTIVE, CANDIDATE, SHADOW

router = APIRouter(prefix="/api/v2/monitor", tags=["monitor"])


@router.get("/model-status", response_model=ModelStatusReport)
def model_status(services: Services) -> ModelStatusReport:
    runtime = services.runtime
    pointers: dict[tuple[str, str], dict[str, str]] = {}
    for state in services.registry.aliases():
        pointers.setdefault((state.symbol, state.horizon), {})[state.alias] = state.version_id
    served = {(s, h.value) for s in runtime.features.symbols for h in runtime.config.horizons}
    now = datetime.now(UTC)
    models = []
    for symbol, horizon in sorted(served | set(pointers)):
        aliases = pointers.get((symbol, horizon), {})
        entry = runtime.active.get(symbol, horizon)
        models.append(
            ModelStatusOut(
                symbol=symbol,
                horizon=horizon,
                active_version=aliases.get(ACTIVE),
                candidate_version=aliases.get(CANDIDATE),
                shadow_version=aliases.get(SHADOW),
                loaded=entry is not None,
                loaded_version=None if entry is None else entry.version.version_id,
                age_seconds=None
                if entry is None
                else (now - entry.version.created_at).total_seconds(),
                last_prediction_at=runtime.predictor.ledger.get(symbol, horizon),
            )
        )
    return ModelStatusReport(
        contract_hash=runtime.contract.contract_hash,
        started_at=runtime.started_at,
        last_refresh=runtime.last_refresh,
        models=models,
        load_errors=runtime.errors.snapshot(),
    )
