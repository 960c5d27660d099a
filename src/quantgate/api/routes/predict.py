"""`/api/v2/predict/liquid`: multi-horizon predictions for one symbol or a batch."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from quantgate.api.deps import Services
from quantgate.api.errors import error_responses
from quantgate.api.schemas import (
    SYMBOL_PATTERN,
    HorizonMap,
    LiquidPredictionBatch,
    LiquidPredictionOut,
    LiquidPredictionRequest,
    VersionMap,
)
from quantgate.core.enums import Horizon
from quantgate.inference.predictor import LiquidPrediction

router = APIRouter(prefix="/api/v2/predict", tags=["predict"])


def _horizon_map(prediction: LiquidPrediction, head: str) -> HorizonMap:
    return HorizonMap.model_validate(
        {h.value: getattr(f, head) for h, f in prediction.forecasts.items()}
    )


def prediction_out(prediction: LiquidPrediction) -> LiquidPredictionOut:
    legacy = prediction.legacy()
    return LiquidPredictionOut(
        symbol=prediction.symbol,
        asof=prediction.asof,
        max_input_available_at=prediction.max_input_available_at,
        contract_hash=prediction.contract_hash,
        expected_return=_horizon_map(prediction, "expected_return"),
        signal_confidence=_horizon_map(prediction, "signal_confidence"),
        vol_forecast=_horizon_map(prediction, "vol_forecast"),
        expected_return_legacy=None if legacy is None else legacy.expected_return,
        signal_confidence_legacy=None if legacy is None else legacy.signal_confidence,
        vol_forecast_legacy=None if legacy is None else legacy.vol_forecast,
        model_version=VersionMap.model_validate(
            {h.value: v for h, v in prediction.versions.items()}
        ),
    )


def _predict(
    services: Services,
    symbols: list[str],
    asof: datetime | None,
    horizons: list[Horizon] | None,
) -> Response:
    wanted = tuple(dict.fromkeys(horizons)) if horizons else tuple(Horizon)
    predictions = []
    for symbol in dict.fromkeys(symbols):
        prediction = services.runtime.predictor.predict(symbol, asof=asof, horizons=wanted)
        for h in prediction.forecasts:
            services.metrics.predictions.labels(symbol, h.value).inc()
        predictions.append(prediction_out(prediction))
    batch = LiquidPredictionBatch(
        contract_hash=services.runtime.contract.contract_hash, predictions=predictions
    )
    # Built from typed models already; serialising once here skips FastAPI's second
    # validation pass of the return value (a third of the request's time).
    return Response(batch.model_dump_json(by_alias=True), media_type="application/json")


@router.get(
    "/liquid",
    response_model=LiquidPredictionBatch,
    response_model_by_alias=True,
    responses=error_responses(404, 422),
    summary="Predict one or more symbols (repeat `symbol`)",
)
def predict_liquid_get(
    services: Services,
    symbol: Annotated[
        list[Annotated[str, Query(pattern=SYMBOL_PATTERN)]],
        Query(
            min_length=1,
            max_length=100,
            description="repeat for a batch",
            openapi_examples={
                "one": {"value": ["BTCUSDT"]},
                "batch": {"value": ["BTCUSDT", "ETHUSDT"]},
            },
        ),
    ],
    asof: Annotated[
        AwareDatetime | None, Query(description="decision time; default newest")
    ] = None,
    horizon: Annotated[list[Horizon] | None, Query(description="default: all four")] = None,
) -> Response:
    return _predict(services, symbol, asof, horizon)


@router.post(
    "/liquid",
    response_model=LiquidPredictionBatch,
    response_model_by_alias=True,
    responses=error_responses(400, 404, 413, 415, 422),
    summary="Predict a batch of symbols",
)
def predict_liquid_post(services: Services, body: LiquidPredictionRequest) -> Response:
    return _predict(services, body.symbols, body.asof, body.horizons)
