"""The multi-horizon predictor: feature row + the active model of each horizon → one answer.

Each (symbol, horizon) may point at a different registry version; horizons that
share an artifact run through ONNX Runtime once. Where a `shadow` alias exists,
the shadow version scores the same row and its numbers go to the shadow log only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError
from quantgate.features.contract import CONTRACT, FeatureContract
from quantgate.inference.features import FeatureRow, FeatureRowCache
from quantgate.inference.served_model import HorizonForecast, ServedModel
from quantgate.inference.shadow import ShadowLog, ShadowRecord
from quantgate.registry.runtime import ActiveModels, LoadedModel


class UnknownSymbolError(DataError):
    """No model serves this symbol."""


class NoFeatureRowError(DataError):
    """The feature store holds no row for the symbol at or before the requested time."""


@dataclass(frozen=True, slots=True)
class LiquidPrediction:
    symbol: str
    asof: datetime
    max_input_available_at: datetime
    contract_hash: str
    forecasts: dict[Horizon, HorizonForecast]
    versions: dict[Horizon, str]

    def legacy(self) -> HorizonForecast | None:
        """The 1d forecast, which the v1 fields carried."""
        return self.forecasts.get(Horizon.D1)


@dataclass
class PredictionLedger:
    """Per (symbol, horizon): when it was last predicted (for the model-status endpoint)."""

    last: dict[tuple[str, str], datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, symbol: str, horizons: Sequence[Horizon], at: datetime) -> None:
        with self.lock:
            for h in horizons:
                self.last[(symbol, h.value)] = at

    def get(self, symbol: str, horizon: str) -> datetime | None:
        with self.lock:
            return self.last.get((symbol, horizon))


class LiquidPredictor:
    def __init__(
        self,
        active: ActiveModels,
        features: FeatureRowCache,
        *,
        shadow: ActiveModels | None = None,
        shadow_log: ShadowLog | None = None,
        contract: FeatureContract = CONTRACT,
    ) -> None:
        self.active = active
        self.shadow = shadow
        self.shadow_log = shadow_log
        self.features = features
        self.contract = contract
        self.ledger = PredictionLedger()
        self._served: dict[str, ServedModel] = {}
        self._served_lock = threading.Lock()

    def symbols(self) -> list[str]:
        return sorted({symbol for symbol, _ in self.active.loaded_keys()})

    def predict(
        self,
        symbol: str,
        *,
        asof: datetime | None = None,
        horizons: Sequence[Horizon] = tuple(Horizon),
    ) -> LiquidPrediction:
        loaded = {h: self.active.get(symbol, h) for h in horizons}
        served = {h: entry for h, entry in loaded.items() if entry is not None}
        if not served:
            raise UnknownSymbolError(
                f"no active model serves {symbol}",
                field="symbol",
                fix=f"use one of {', '.join(self.symbols()) or '(none loaded)'}",
            )
        row = self.features.row(symbol, asof)
        if row is None:
            when = "" if asof is None else f" at or before {asof.isoformat()}"
            raise NoFeatureRowError(
                f"no feature row for {symbol}{when}",
                field="asof",
                fix="run `quantgate features build`, or ask for a later asof",
            )
        forecasts = self._score(served, row)
        now = datetime.now(UTC)
        self.ledger.mark(symbol, list(forecasts), now)
        if self.shadow is not None and self.shadow_log is not None:
            self._score_shadow(symbol, row, horizons, served, forecasts, now)
        return LiquidPrediction(
            symbol=symbol,
            asof=row.asof,
            max_input_available_at=row.max_input_available_at,
            contract_hash=self.contract.contract_hash,
            forecasts=forecasts,
            versions={h: entry.version.version_id for h, entry in served.items()},
        )

    def _score(
        self, entries: dict[Horizon, LoadedModel], row: FeatureRow
    ) -> dict[Horizon, HorizonForecast]:
        by_digest: dict[str, list[Horizon]] = {}
        for h, entry in entries.items():
            by_digest.setdefault(entry.version.artifact_digest, []).append(h)
        out: dict[Horizon, HorizonForecast] = {}
        for horizons in by_digest.values():
            model = self._served_model(entries[horizons[0]])
            forecast = model.forecast(row.values)[0]
            for h in horizons:
                out[h] = forecast[h]
        return {h: out[h] for h in entries}

    def _served_model(self, entry: LoadedModel) -> ServedModel:
        digest = entry.version.artifact_digest
        with self._served_lock:
            served = self._served.get(digest)
        if served is None or served.model is not entry.model:
            served = ServedModel(entry.model, self.contract)
            with self._served_lock:
                self._served[digest] = served
        return served

    def _score_shadow(
        self,
        symbol: str,
        row: FeatureRow,
        horizons: Sequence[Horizon],
        active: dict[Horizon, LoadedModel],
        forecasts: dict[Horizon, HorizonForecast],
        now: datetime,
    ) -> None:
        assert self.shadow is not None and self.shadow_log is not None
        shadows = {h: self.shadow.get(symbol, h) for h in horizons}
        entries = {h: entry for h, entry in shadows.items() if entry is not None}
        if not entries:
            return
        scored = self._score(entries, row)
        for h, forecast in scored.items():
            live = forecasts.get(h)
            self.shadow_log.record(
                ShadowRecord(
                    scored_at=now,
                    symbol=symbol,
                    horizon=h.value,
                    asof=row.asof,
                    active_version_id=active[h].version.version_id if h in active else None,
                    shadow_version_id=entries[h].version.version_id,
                    active_expected_return=None if live is None else live.expected_return,
                    active_signal_confidence=None if live is None else live.signal_confidence,
                    active_vol_forecast=None if live is None else live.vol_forecast,
                    shadow_expected_return=forecast.expected_return,
                    shadow_signal_confidence=forecast.signal_confidence,
                    shadow_vol_forecast=forecast.vol_forecast,
                )
            )
