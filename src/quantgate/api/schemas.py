"""Request and response bodies of the v2 API (field names are a contract: DESIGN §3.11)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from quantgate.core.enums import Horizon

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._/-]{0,31}$"
Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w.@:-]+$")]
VersionId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HorizonMap(BaseModel):
    """One number per horizon; a horizon without an active model is absent."""

    model_config = ConfigDict(populate_by_name=True)

    h1: float | None = Field(default=None, alias="1h")
    h4: float | None = Field(default=None, alias="4h")
    d1: float | None = Field(default=None, alias="1d")
    d7: float | None = Field(default=None, alias="7d")


class VersionMap(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    h1: str | None = Field(default=None, alias="1h")
    h4: str | None = Field(default=None, alias="4h")
    d1: str | None = Field(default=None, alias="1d")
    d7: str | None = Field(default=None, alias="7d")


class LiquidPredictionOut(BaseModel):
    symbol: str
    asof: datetime = Field(description="decision time of the feature row used")
    max_input_available_at: datetime = Field(
        description="latest availability time of any input of the feature row (<= asof)"
    )
    contract_hash: str
    expected_return: HorizonMap = Field(description="forward log return per horizon")
    signal_confidence: HorizonMap = Field(
        description="calibrated probability that the predicted direction is right"
    )
    vol_forecast: HorizonMap = Field(description="realised volatility over each horizon")
    expected_return_legacy: float | None = Field(
        description="v1 compatibility: the 1d expected_return (null without a 1d model)"
    )
    signal_confidence_legacy: float | None = Field(
        description="v1 compatibility: the 1d signal_confidence"
    )
    vol_forecast_legacy: float | None = Field(description="v1 compatibility: the 1d vol_forecast")
    model_version: VersionMap = Field(description="registry version that answered each horizon")


class LiquidPredictionBatch(BaseModel):
    contract_hash: str
    predictions: list[LiquidPredictionOut]


class LiquidPredictionRequest(_Strict):
    symbols: list[Symbol] = Field(min_length=1, max_length=100, examples=[["BTCUSDT", "ETHUSDT"]])
    asof: AwareDatetime | None = Field(
        default=None, description="decision time (UTC offset required); default: newest row"
    )
    horizons: list[Horizon] | None = Field(default=None, description="default: all four")


class VersionOut(BaseModel):
    version_id: str
    symbol: str
    horizon: str
    artifact_digest: str
    contract_hash: str
    source_run_id: str | None
    created_at: datetime
    created_by: str
    aliases: list[str]
    evaluation: dict[str, Any]


class AliasOut(BaseModel):
    symbol: str
    horizon: str
    alias: str
    version_id: str
    generation: int
    updated_at: datetime
    updated_by: str


class RegistryOut(BaseModel):
    versions: list[VersionOut]
    aliases: list[AliasOut]


class RuleCheckOut(BaseModel):
    rule: str
    value: float | None
    op: str
    threshold: float
    verdict: str


class TransitionOut(BaseModel):
    action: str
    symbol: str
    horizon: str
    alias: str
    from_version: str | None
    to_version: str | None
    changed: bool
    forced: bool
    refused: bool
    checks: list[RuleCheckOut] = Field(default_factory=list)
    audit_id: int | None = None


class RegisterCandidateRequest(_Strict):
    run_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        default="latest", description="'latest' or a training run id"
    )
    symbol: Symbol | None = None
    horizon: Horizon | None = None
    reason: Reason | None = None
    actor: Actor | None = None


class RegisteredOut(BaseModel):
    symbol: str
    horizon: str
    version_id: str | None = None
    created: bool | None = None
    error: str | None = None


class RegisterCandidateOut(BaseModel):
    run_id: str
    registered: list[RegisteredOut]


class PromoteRequest(_Strict):
    symbol: Symbol
    horizon: Horizon
    force: bool = False
    reason: Reason | None = Field(default=None, description="required with force")
    actor: Actor | None = None


class ActivateRequest(_Strict):
    version_id: VersionId
    force: bool = False
    reason: Reason | None = None
    actor: Actor | None = None


class RollbackRequest(_Strict):
    symbol: Symbol
    horizon: Horizon
    reason: Reason
    actor: Actor | None = None


class ModelStatusOut(BaseModel):
    symbol: str
    horizon: str
    active_version: str | None
    candidate_version: str | None
    shadow_version: str | None
    loaded: bool
    loaded_version: str | None
    age_seconds: float | None = Field(description="since the loaded version was created")
    last_prediction_at: datetime | None


class ModelStatusReport(BaseModel):
    contract_hash: str
    started_at: datetime
    last_refresh: datetime | None
    models: list[ModelStatusOut]
    load_errors: list[dict[str, str]]


class HealthOut(BaseModel):
    status: str


class ReadinessOut(BaseModel):
    ready: bool
    models_loaded: bool
    database: bool
