"""The Signal: what a strategy wants held, as of one decision time.

A signal is a *target*, not an order: it says "as of `asof`, this strategy wants
`target_exposure` of its capital in `symbol`". The allocator turns the set of
active signals into portfolio weights, the execution policy turns weight deltas
into orders. A target of 0 is an exit. Because every target is absolute, a
repeated or lost signal never doubles or strands a position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import isfinite
from typing import Any

from quantgate.core.clock import ensure_utc
from quantgate.core.enums import Horizon
from quantgate.core.errors import DataError, ProgrammerError
from quantgate.core.slots import slot_init

_OPTIONAL_FLOATS = ("expected_return", "confidence", "vol_forecast", "stop_price", "target_price")


@slot_init
@dataclass(frozen=True, slots=True)
class Signal:
    """One strategy's target exposure for one symbol.

    `target_exposure` is a signed fraction of the strategy's capital in [-1, 1];
    `strength` in [0, 1] ranks signals against each other (the allocator keeps
    the stronger of two duplicates). `expected_return` and `vol_forecast` are
    over `horizon` and are None when the strategy has no forecast. `group` ties
    signals that must trade together (both legs of a pair).
    """

    symbol: str
    asof: datetime
    strategy: str
    target_exposure: float
    strength: float
    horizon: Horizon
    reason: str
    expected_return: float | None = None
    confidence: float | None = None
    vol_forecast: float | None = None
    stop_price: float | None = None
    target_price: float | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "asof", ensure_utc(self.asof, name="Signal.asof"))
        # A malformed signal comes from our own strategy code, so it is a bug, not bad data.
        if not self.symbol or not self.strategy:
            raise ProgrammerError("Signal.symbol and Signal.strategy must not be empty")
        if not (isfinite(self.target_exposure) and -1.0 <= self.target_exposure <= 1.0):
            raise ProgrammerError(
                f"{self.strategy}/{self.symbol}: target_exposure {self.target_exposure} "
                "outside [-1, 1]"
            )
        if not (isfinite(self.strength) and 0.0 <= self.strength <= 1.0):
            raise ProgrammerError(
                f"{self.strategy}/{self.symbol}: strength {self.strength} outside [0, 1]"
            )
        for name in _OPTIONAL_FLOATS:
            value = getattr(self, name)
            if value is not None and not isfinite(value):
                raise ProgrammerError(f"{self.strategy}/{self.symbol}: {name} is not finite")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ProgrammerError(
                f"{self.strategy}/{self.symbol}: confidence {self.confidence} outside [0, 1]"
            )
        for name in ("vol_forecast", "stop_price", "target_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ProgrammerError(f"{self.strategy}/{self.symbol}: {name} must be positive")

    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 flat."""
        if self.target_exposure > 0:
            return 1
        if self.target_exposure < 0:
            return -1
        return 0

    @property
    def is_exit(self) -> bool:
        return self.target_exposure == 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; `from_dict(to_dict())` gives back an equal signal."""
        return {
            "symbol": self.symbol,
            "asof": self.asof.isoformat(),
            "strategy": self.strategy,
            "target_exposure": self.target_exposure,
            "strength": self.strength,
            "horizon": self.horizon.value,
            "reason": self.reason,
            "expected_return": self.expected_return,
            "confidence": self.confidence,
            "vol_forecast": self.vol_forecast,
            "stop_price": self.stop_price,
            "target_price": self.target_price,
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Signal:
        try:
            return cls(
                symbol=str(payload["symbol"]),
                asof=datetime.fromisoformat(payload["asof"]),
                strategy=str(payload["strategy"]),
                target_exposure=float(payload["target_exposure"]),
                strength=float(payload["strength"]),
                horizon=Horizon(payload["horizon"]),
                reason=str(payload["reason"]),
                expected_return=_optional_float(payload.get("expected_return")),
                confidence=_optional_float(payload.get("confidence")),
                vol_forecast=_optional_float(payload.get("vol_forecast")),
                stop_price=_optional_float(payload.get("stop_price")),
                target_price=_optional_float(payload.get("target_price")),
                group=payload.get("group"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"not a signal payload: {error}", field="signal") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
