"""An ensemble: several strategies voting with weights on one target per symbol.

Each member runs unchanged on the same events. The ensemble remembers every
member's latest signal per symbol; its target is the weight-averaged member
target (members without a view count as flat, so one member alone cannot
push the ensemble to full size). A signal is emitted whenever that average
moves, so the allocator always sees the ensemble's current view, and never
sees the members directly.

The combined signal keeps a member's `group`, `stop_price` and `target_price`
only where that is unambiguous: every member with a view (a non-flat latest
signal) agrees on the value — trivially so when one member has a view. When the
ensemble goes flat, the members whose signals took it there decide instead. A
value the sources disagree on (a pair leg voting with an ungrouped momentum, two
brackets with different stops) is left out: it belongs to no single bet.

The members that moved the target of the ensemble's latest signal for a symbol
are its causes: the engine tells the ensemble of the fills of the orders that
signal caused, and the ensemble passes them on to those members only (a
bracket must not re-anchor its stop on a top-up another member voted for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, model_validator

from quantgate.config.base import ComponentConfig
from quantgate.core.errors import ConfigurationError
from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Fill, OrderEnded, Prediction
from quantgate.strategy.base import Strategy, StrategyConfig


class EnsembleMember(ComponentConfig):
    strategy: str
    weight: float = Field(gt=0.0)
    params: dict[str, Any] = Field(default_factory=dict)


class EnsembleConfig(StrategyConfig):
    members: tuple[EnsembleMember, ...] = (
        EnsembleMember(strategy="momentum", weight=0.6),
        EnsembleMember(strategy="mean_reversion", weight=0.4),
    )
    # Emit only when the combined target moves by more than this (0: on any change).
    min_change: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check_members(self) -> EnsembleConfig:
        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        return self


class EnsembleStrategy(Strategy[EnsembleConfig]):
    kind = "ensemble"

    _latest: dict[str, list[Signal | None]]
    _emitted: dict[str, float]
    # Per symbol, the indices of the members that moved the latest emitted target.
    _causes: dict[str, tuple[int, ...]]

    def __init__(self, config: EnsembleConfig, members: Sequence[Strategy[Any]]) -> None:
        if [member.kind for member in members] != [m.strategy for m in config.members]:
            raise ConfigurationError(
                "ensemble members do not match the configuration: built "
                f"{[member.kind for member in members]}, configured "
                f"{[m.strategy for m in config.members]}",
                field="ensemble.members",
                fix="build ensembles with quantgate.strategy.registry.build_strategy",
            )
        self.members: tuple[Strategy[Any], ...] = tuple(members)
        self._weights = tuple(m.weight for m in config.members)
        super().__init__(config)

    @property
    def lookback(self) -> int:
        return max(member.lookback for member in self.members)

    def _reset(self) -> None:
        self._latest = {}
        self._emitted = {}
        self._causes = {}

    def _on_bar(self, bar: Bar) -> list[Signal]:
        return self._absorb([member.on_bar(bar) for member in self.members])

    def on_prediction(self, prediction: Prediction) -> list[Signal]:
        if not self.handles(prediction.symbol):
            return []
        return self._absorb([member.on_prediction(prediction) for member in self.members])

    def on_fill(self, fill: Fill) -> None:
        # The engine hands over fills of orders the ensemble's latest signal for the symbol
        # caused; they are the trades of the members that moved that signal, no one else's.
        members = self.members
        for index in self._causes.get(fill.symbol, ()):
            members[index].on_fill(fill)

    def on_order_ended(self, ended: OrderEnded) -> None:
        # As fills: the members that moved the signal whose order it was.
        members = self.members
        for index in self._causes.get(ended.symbol, ()):
            members[index].on_order_ended(ended)

    def _absorb(self, member_signals: list[list[Signal]]) -> list[Signal]:
        # Per symbol, the members that signalled; insertion-ordered, so output is deterministic.
        touched: dict[str, list[int]] = {}
        for index, signals in enumerate(member_signals):
            for signal in signals:
                if not self.handles(signal.symbol):
                    continue
                slots = self._latest.setdefault(signal.symbol, [None] * len(self.members))
                slots[index] = signal
                movers = touched.setdefault(signal.symbol, [])
                if not movers or movers[-1] != index:
                    movers.append(index)
        emitted = []
        for symbol, movers in touched.items():
            combined = self._combine(symbol, movers)
            if combined is not None:
                emitted.append(combined)
        return emitted

    def _combine(self, symbol: str, movers: list[int]) -> Signal | None:
        slots = self._latest[symbol]
        total_weight = sum(self._weights)
        weighted = sum(
            weight * signal.target_exposure
            for weight, signal in zip(self._weights, slots, strict=True)
            if signal is not None
        )
        target = max(-1.0, min(1.0, weighted / total_weight * self.config.max_exposure))
        previous = self._emitted.get(symbol, 0.0)
        closing = target == 0.0 and previous != 0.0
        if not closing and abs(target - previous) <= self.config.min_change:
            return None
        self._emitted[symbol] = target
        self._causes[symbol] = tuple(movers)
        active = [
            (weight, signal)
            for weight, signal in zip(self._weights, slots, strict=True)
            if signal is not None and not signal.is_exit
        ]
        # Going flat, the members that just exited speak for the signal (see the module doc).
        sources = [signal for _, signal in active] or [
            signal for signal in (slots[index] for index in movers) if signal is not None
        ]
        asof = max(signal.asof for signal in slots if signal is not None)
        votes = ", ".join(
            f"{member.name} {0.0 if s is None else s.target_exposure:+.2f}×{w:g}"
            for member, w, s in zip(self.members, self._weights, slots, strict=True)
        )
        strength, forecasts = _blend(active)
        return self._signal(
            symbol,
            asof,
            target,
            strength,
            f"ensemble: {votes}",
            **forecasts,
            **_shared_metadata(sources),
        )

    def _dump_state(self) -> dict[str, Any]:
        return {
            "members": [member.checkpoint() for member in self.members],
            "latest": {
                symbol: [None if s is None else s.to_dict() for s in slots]
                for symbol, slots in sorted(self._latest.items())
            },
            "emitted": dict(sorted(self._emitted.items())),
            "causes": {symbol: list(causes) for symbol, causes in sorted(self._causes.items())},
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        checkpoints = state["members"]
        if len(checkpoints) != len(self.members):
            raise ValueError("checkpoint has a different number of members")
        for member, checkpoint in zip(self.members, checkpoints, strict=True):
            member.restore(checkpoint)
        self._latest = {
            symbol: [None if s is None else Signal.from_dict(s) for s in slots]
            for symbol, slots in state["latest"].items()
        }
        self._emitted = {symbol: float(value) for symbol, value in state["emitted"].items()}
        # A checkpoint from before fills were attributed has none: no member is credited.
        self._causes = {
            symbol: tuple(int(index) for index in causes)
            for symbol, causes in state.get("causes", {}).items()
        }
        if any(not 0 <= i < len(self.members) for c in self._causes.values() for i in c):
            raise ValueError("checkpoint credits a member the ensemble does not have")


def _blend(active: list[tuple[float, Signal]]) -> tuple[float, dict[str, Any]]:
    """Strength and, where the members agree on a horizon, their blended forecasts."""
    if not active:
        return 1.0, {}
    weight = sum(w for w, _ in active)
    strength = sum(w * s.strength for w, s in active) / weight
    extra: dict[str, Any] = {}
    confidences = [(w, s.confidence) for w, s in active if s.confidence is not None]
    if confidences:
        extra["confidence"] = sum(w * c for w, c in confidences) / sum(w for w, _ in confidences)
    horizons = {s.horizon for _, s in active}
    if len(horizons) == 1:
        extra["horizon"] = horizons.pop()
        # Forecasts over one shared horizon can be averaged; across horizons they cannot.
        if all(s.expected_return is not None for _, s in active):
            extra["expected_return"] = (
                sum(w * (s.expected_return or 0.0) for w, s in active) / weight
            )
        if all(s.vol_forecast is not None for _, s in active):
            extra["vol_forecast"] = sum(w * (s.vol_forecast or 0.0) for w, s in active) / weight
    return strength, extra


_METADATA = ("group", "stop_price", "target_price")


def _shared_metadata(sources: Sequence[Signal]) -> dict[str, Any]:
    """Each of group, stop and target that every source signal agrees on (and sets)."""
    shared: dict[str, Any] = {}
    if not sources:
        return shared
    first = sources[0]
    for name in _METADATA:
        value = getattr(first, name)
        if value is not None and all(getattr(s, name) == value for s in sources[1:]):
            shared[name] = value
    return shared
