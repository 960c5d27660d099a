"""Trade model predictions when they clear confidence and cost hurdles.

For each horizon the model forecasts, the edge after costs is
|expected_return| − cost_bps. A horizon is eligible when its signal confidence
is at least `min_confidence` and that net edge is at least `min_edge_bps`. Of
the eligible horizons the one with the best net edge per unit of forecast
volatility wins (a one-trade Sharpe ratio: the cost is paid once whatever the
horizon, so longer horizons are not penalised for it, but their larger
volatility counts against them). Exposure is that ratio times
`exposure_per_unit_sharpe`, capped by `max_exposure`.

A position stays while fresh predictions keep supporting it. When a prediction
no longer clears the hurdles the strategy exits; when predictions stop coming
(a model outage), the position is closed on the first bar after the supporting
forecast's horizon has elapsed, so a stale forecast never holds a position; that exit
is stated over at most 4h so it trades at once rather than in slices over hours.

A horizon the prediction does not carry at all (no active model serves it) is not a
candidate; a prediction that carries none of the configured horizons says nothing about
them and counts as no prediction (an open position lasts until its forecast expires).
A horizon carried with only some of its three values, or with a volatility that is not
positive, is malformed model output and raises a `DataError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Prediction
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.state import decode_time, encode_time

_BPS = 1e-4
# Signals over 1h-4h are traded at once (marketable orders); 1d and 7d ones are worked in
# slices over hours. A position whose forecast expired has no support left, so its exit
# goes out at most at this horizon: an expired 7d forecast must not take another day.
_LONGEST_IMMEDIATE_HORIZON = Horizon.H4


class MLSignalConfig(StrategyConfig):
    horizons: tuple[Horizon, ...] = (Horizon.H1, Horizon.H4, Horizon.D1, Horizon.D7)
    min_confidence: float = Field(default=0.55, ge=0.0, le=1.0)
    # Round-trip cost of one trade: fees both ways, spread and expected slippage.
    cost_bps: float = Field(default=10.0, ge=0.0)
    min_edge_bps: float = Field(default=5.0, ge=0.0)
    exposure_per_unit_sharpe: float = Field(default=1.0, gt=0.0)
    # Resizes smaller than this are not worth an order.
    rebalance_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    allow_short: bool = True

    @field_validator("horizons")
    @classmethod
    def _check_horizons(cls, horizons: tuple[Horizon, ...]) -> tuple[Horizon, ...]:
        if not horizons:
            # With no horizon to choose from the strategy could never trade.
            raise ValueError(
                "give at least one horizon, among " + ", ".join(h.value for h in Horizon)
            )
        return horizons


@dataclass(frozen=True, slots=True)
class HorizonChoice:
    horizon: Horizon
    expected_return: float
    confidence: float
    vol_forecast: float
    net_edge: float
    sharpe: float


@dataclass(frozen=True, slots=True)
class HorizonForecast:
    horizon: Horizon
    expected_return: float
    confidence: float
    vol_forecast: float


def configured_forecasts(prediction: Prediction, config: MLSignalConfig) -> list[HorizonForecast]:
    """The configured horizons the prediction carries, shortest first, checked."""
    forecasts = []
    for horizon in sorted(config.horizons, key=lambda h: h.duration):
        expected = prediction.expected_return.get(horizon)
        confidence = prediction.signal_confidence.get(horizon)
        vol = prediction.vol_forecast.get(horizon)
        if expected is None and confidence is None and vol is None:
            continue  # no model serves this horizon
        where = f"{prediction.symbol} prediction at {prediction.asof.isoformat()}, {horizon.value}"
        if expected is None or confidence is None or vol is None:
            # Half a forecast is a broken producer, not a horizon without a model.
            missing = [
                name
                for name, value in (
                    ("expected_return", expected),
                    ("signal_confidence", confidence),
                    ("vol_forecast", vol),
                )
                if value is None
            ]
            raise DataError(f"{where}: no {' and no '.join(missing)}", field=missing[0])
        if vol <= 0.0:
            # Edge per unit of volatility is meaningless (or infinite) without a positive vol.
            raise DataError(f"{where}: vol_forecast {vol} is not positive", field="vol_forecast")
        forecasts.append(HorizonForecast(horizon, expected, confidence, vol))
    return forecasts


def choose_horizon(prediction: Prediction, config: MLSignalConfig) -> HorizonChoice | None:
    """The eligible horizon with the best net edge per unit of volatility, or None."""
    return choose_among(configured_forecasts(prediction, config), config)


def choose_among(forecasts: list[HorizonForecast], config: MLSignalConfig) -> HorizonChoice | None:
    """Of checked forecasts (shortest horizon first), the eligible best, or None."""
    best: HorizonChoice | None = None
    cost = config.cost_bps * _BPS
    for forecast in forecasts:
        horizon, expected = forecast.horizon, forecast.expected_return
        confidence, vol = forecast.confidence, forecast.vol_forecast
        if expected < 0.0 and not config.allow_short:
            continue
        net_edge = abs(expected) - cost
        if confidence < config.min_confidence or net_edge < config.min_edge_bps * _BPS:
            continue
        if net_edge <= 0.0:
            continue
        choice = HorizonChoice(horizon, expected, confidence, vol, net_edge, net_edge / vol)
        # Strictly better only, so ties go to the shorter horizon (checked first).
        if best is None or choice.sharpe > best.sharpe:
            best = choice
    return best


@dataclass(slots=True)
class _SymbolState:
    target: float = 0.0
    horizon: Horizon | None = None
    supported_at: datetime | None = None
    last_prediction_at: datetime | None = None
    last_signal_at: datetime | None = None


class MLSignalStrategy(Strategy[MLSignalConfig]):
    kind = "ml_signal"

    _symbols: dict[str, _SymbolState]

    @property
    def lookback(self) -> int:
        return 0  # no rolling windows: the model carries the history

    def _reset(self) -> None:
        self._symbols = {}

    def on_prediction(self, prediction: Prediction) -> list[Signal]:
        if not self.handles(prediction.symbol):
            return []
        if (
            prediction.max_input_available_at is not None
            and prediction.max_input_available_at > prediction.asof
        ):
            raise DataError(
                f"prediction for {prediction.symbol} at {prediction.asof.isoformat()} used "
                f"inputs available only at {prediction.max_input_available_at.isoformat()}",
                field="max_input_available_at",
            )
        state = self._symbols.setdefault(prediction.symbol, _SymbolState())
        last = state.last_prediction_at
        if last is not None:
            if prediction.asof == last:
                return []  # replayed after a restart; already acted on
            if prediction.asof < last:
                raise ProgrammerError(
                    f"{self.name}: {prediction.symbol} prediction at "
                    f"{prediction.asof.isoformat()} arrived after {last.isoformat()}"
                )
        forecasts = configured_forecasts(prediction, self.config)
        state.last_prediction_at = prediction.asof
        if not forecasts:
            return []
        choice = choose_among(forecasts, self.config)
        if choice is None:
            if state.target == 0.0:
                return []
            return [
                self._exit(
                    prediction.symbol,
                    state,
                    prediction.asof,
                    "no horizon clears "
                    f"confidence {self.config.min_confidence} and edge "
                    f"{self.config.min_edge_bps} bps over {self.config.cost_bps} bps costs",
                )
            ]
        direction = 1.0 if choice.expected_return > 0 else -1.0
        target = direction * min(
            self.config.max_exposure, self.config.exposure_per_unit_sharpe * choice.sharpe
        )
        state.horizon = choice.horizon
        state.supported_at = prediction.asof
        same_side = target * state.target > 0
        if same_side and abs(target - state.target) < self.config.rebalance_threshold:
            return []
        state.target = target
        state.last_signal_at = prediction.asof
        return [
            self._signal(
                prediction.symbol,
                prediction.asof,
                target,
                choice.confidence,
                f"{choice.horizon.value}: expected return {choice.expected_return:+.5f}, "
                f"net edge {choice.net_edge:.5f} over {self.config.cost_bps} bps costs, "
                f"vol {choice.vol_forecast:.5f}, confidence {choice.confidence:.3f}",
                horizon=choice.horizon,
                expected_return=choice.expected_return,
                confidence=choice.confidence,
                vol_forecast=choice.vol_forecast,
            )
        ]

    def _on_bar(self, bar: Bar) -> list[Signal]:
        state = self._symbols.get(bar.symbol)
        if state is None or state.target == 0.0:
            return []
        if state.horizon is None or state.supported_at is None:
            raise ProgrammerError(f"{self.name}: open {bar.symbol} position without a forecast")
        expires_at = state.supported_at + state.horizon.duration
        if bar.available_at < expires_at:
            return []
        reason = (
            f"{state.horizon.value} forecast from {state.supported_at.isoformat()} expired "
            "without a fresh prediction"
        )
        urgent = min(state.horizon, _LONGEST_IMMEDIATE_HORIZON, key=lambda h: h.duration)
        return [self._exit(bar.symbol, state, bar.available_at, reason, horizon=urgent)]

    def _exit(
        self,
        symbol: str,
        state: _SymbolState,
        asof: datetime,
        reason: str,
        *,
        horizon: Horizon | None = None,
    ) -> Signal:
        horizon = horizon or state.horizon or self.config.horizon
        state.target = 0.0
        state.horizon = None
        state.supported_at = None
        state.last_signal_at = asof
        return self._signal(symbol, asof, 0.0, 1.0, reason, horizon=horizon)

    def _dump_state(self) -> dict[str, Any]:
        return {
            symbol: {
                "target": state.target,
                "horizon": None if state.horizon is None else state.horizon.value,
                "supported_at": encode_time(state.supported_at),
                "last_prediction_at": encode_time(state.last_prediction_at),
                "last_signal_at": encode_time(state.last_signal_at),
            }
            for symbol, state in sorted(self._symbols.items())
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._symbols = {
            symbol: _SymbolState(
                target=float(entry["target"]),
                horizon=None if entry["horizon"] is None else Horizon(entry["horizon"]),
                supported_at=decode_time(entry["supported_at"]),
                last_prediction_at=decode_time(entry["last_prediction_at"]),
                last_signal_at=decode_time(entry["last_signal_at"]),
            )
            for symbol, entry in state.items()
        }
