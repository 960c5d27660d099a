"""Pairs trading: trade the spread of two cointegrated prices back to its mean.

For each configured pair (a, b), over a rolling window of log closes:
    log a = α + β log b + e,   z = e_now / std(e over the window)
β is the rolling hedge ratio. A new position is opened only when |z| passes
`entry_z` *and* the Engle–Granger test on the same window rejects "no
cointegration": a wide spread between two unrelated random walks is not a
mean-reversion opportunity, just drift.

Once open, the pair is judged on the spread it holds: log a − α₀ − β₀ log b in
units of the entry window's residual std (α₀, β₀ frozen at entry), not on a
re-fitted regression, which would absorb a divergence into its new α and β and
call the trade "reverted" while the legs held are still losing. The position
closes when that z is back inside `exit_z` (or crossed the mean), runs past
`stop_z`, or has been held `max_holding_bars`; at least one of the last two must
be set, or a pair that stops being cointegrated while open is never closed.
After a stop or time stop, no new entry in the same direction is taken until
the rolling z has been back inside `exit_z`.

Both legs are emitted together with the same `group`: long the spread is long
a and short β·b, with gross exposure `max_exposure` split by 1 : |β|.

The engine hands bars over one symbol at a time. A pair steps only when both
legs have a bar with the same open time; a leg bar whose partner never arrives
is dropped rather than matched with a different time.

A pair is two legs or nothing: when the engine reports that a leg's entry ended with
none of it filled (the risk gate denied it, the venue met it with no volume), the
pair is closed at the next bar of either leg, so the other leg is not left as a
naked position, and, as after a stop, not re-opened that way until the spread has
been back inside `exit_z`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from quantgate.core.errors import DataError
from quantgate.core.signals import Signal
from quantgate.core.types import Bar, Fill, OrderEnded
from quantgate.strategy.base import Strategy, StrategyConfig
from quantgate.strategy.cointegration import (
    SIGNIFICANCE_LEVELS,
    EngleGrangerResult,
    engle_granger,
    max_adf_lags,
)
from quantgate.strategy.state import decode_time, encode_time, require_time


class PairsConfig(StrategyConfig):
    pairs: tuple[tuple[str, str], ...] = (("BTCUSDT", "ETHUSDT"),)
    window: int = Field(default=120, ge=30, le=10_000)
    entry_z: float = Field(default=2.0, gt=0.0)
    exit_z: float = Field(default=0.5, ge=0.0)
    stop_z: float | None = 4.0
    # Test size for the entry gate: one of the tabulated levels 0.01, 0.05, 0.10.
    significance: float = 0.05
    # Lags of the residual ADF regression; None selects them by AIC.
    adf_lags: int | None = Field(default=1, ge=0)
    max_holding_bars: int | None = Field(default=None, ge=1)
    # An open pair one of whose legs printed this many bars with no bar of the other leg
    # at the same time is closed: a halted or delisted leg would otherwise freeze it (a
    # pair only steps on paired bars, so not even the time stop would come). None: wait.
    max_unpaired_bars: int | None = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _check(self) -> PairsConfig:
        if self.significance not in SIGNIFICANCE_LEVELS:
            raise ValueError(f"significance must be one of {sorted(SIGNIFICANCE_LEVELS)}")
        if not self.pairs:
            raise ValueError("configure at least one pair")
        legs = [leg for pair in self.pairs for leg in pair]
        if len(set(legs)) != len(legs):
            # One strategy holds one target per symbol; a symbol in two pairs would
            # get two conflicting targets.
            raise ValueError("every symbol may appear in one pair only, and not twice in it")
        if self.exit_z >= self.entry_z:
            raise ValueError("exit_z must be below entry_z")
        if self.stop_z is not None and self.stop_z <= self.entry_z:
            raise ValueError("stop_z must be above entry_z")
        if self.stop_z is None and self.max_holding_bars is None:
            # Exits judge the spread held since entry; if the pair stops being
            # cointegrated that spread need never come back, and nothing would close it.
            raise ValueError(
                "set stop_z or max_holding_bars: without either, a pair whose relationship "
                "breaks while open is never closed"
            )
        return self

    @field_validator("adf_lags")
    @classmethod
    def _check_adf_lags(cls, lags: int | None, info: ValidationInfo) -> int | None:
        window = info.data.get("window")  # absent when the window itself was invalid
        if lags is not None and window is not None and lags > max_adf_lags(window):
            # Otherwise every test fails for want of data and every entry is blocked.
            raise ValueError(
                f"adf_lags must be at most {max_adf_lags(window)} for window {window} (the "
                "ADF test needs window >= 2 × adf_lags + 4); lower adf_lags, widen the "
                "window, or set adf_lags to null to pick the lags by AIC"
            )
        return lags

    def required_symbols(self) -> tuple[str, ...]:
        legs = (leg for pair in self.pairs for leg in pair)
        return tuple(dict.fromkeys((*self.symbols, *legs)))


@dataclass(slots=True)
class _LegBar:
    ts: datetime
    available_at: datetime
    close: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": encode_time(self.ts),
            "available_at": encode_time(self.available_at),
            "close": self.close,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> _LegBar:
        return cls(
            require_time(payload["ts"]),
            require_time(payload["available_at"]),
            float(payload["close"]),
        )


@dataclass(slots=True)
class OpenPair:
    direction: int  # +1 long the spread (long a, short b), -1 short it
    entry_at: datetime
    entry_z: float
    hedge_ratio: float
    entry_price_a: float
    entry_price_b: float
    # The spread actually held is log a − intercept − hedge_ratio · log b, in units of
    # spread_std: the regression of the entry window, frozen while the pair is open.
    intercept: float
    spread_std: float
    bars_held: int = 0
    # Legs with a fill on their entry side, and why a leg's entry ended with none filled.
    filled_legs: list[str] = field(default_factory=list)
    leg_missed: str | None = None

    def leg_side(self, leg_index: int) -> int:
        """The sign of a leg's entry trade: +1 buys it, -1 sells it, 0 holds none."""
        if leg_index == 0:
            return self.direction
        return -self.direction * (1 if self.hedge_ratio > 0 else -1 if self.hedge_ratio < 0 else 0)

    def z(self, log_a: float, log_b: float) -> float:
        """The z-score of the held spread at these log prices."""
        return (log_a - self.intercept - self.hedge_ratio * log_b) / self.spread_std

    def to_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "entry_at": encode_time(self.entry_at),
            "entry_z": self.entry_z,
            "hedge_ratio": self.hedge_ratio,
            "entry_price_a": self.entry_price_a,
            "entry_price_b": self.entry_price_b,
            "intercept": self.intercept,
            "spread_std": self.spread_std,
            "bars_held": self.bars_held,
            "filled_legs": list(self.filled_legs),
            "leg_missed": self.leg_missed,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> OpenPair:
        return cls(
            direction=int(payload["direction"]),
            entry_at=require_time(payload["entry_at"]),
            entry_z=float(payload["entry_z"]),
            hedge_ratio=float(payload["hedge_ratio"]),
            entry_price_a=float(payload["entry_price_a"]),
            entry_price_b=float(payload["entry_price_b"]),
            intercept=float(payload["intercept"]),
            spread_std=float(payload["spread_std"]),
            bars_held=int(payload["bars_held"]),
            filled_legs=[str(leg) for leg in payload["filled_legs"]],
            leg_missed=None if payload["leg_missed"] is None else str(payload["leg_missed"]),
        )


@dataclass(slots=True)
class _PairState:
    log_a: deque[float]
    log_b: deque[float]
    pending: dict[str, _LegBar] = field(default_factory=dict)
    open: OpenPair | None = None
    last_signal_at: datetime | None = None
    # The latest Engle–Granger verdict and how many entries it refused, kept for
    # reports: "why did the pair not trade?"
    last_test: dict[str, Any] | None = None
    blocked_entries: int = 0
    # Direction of a position just closed by a stop or time stop: no new entry that way
    # until the spread has been back inside the exit band (0: none pending).
    stopped_direction: int = 0
    # Per leg, its bars since the pair last stepped (both legs at one time).
    unpaired: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _SpreadView:
    z: float
    hedge_ratio: float
    intercept: float
    std: float


def _spread_view(log_a: deque[float], log_b: deque[float]) -> _SpreadView | None:
    a = np.asarray(log_a, dtype=np.float64)
    b = np.asarray(log_b, dtype=np.float64)
    if float(np.std(b)) == 0.0:
        return None
    design = np.column_stack([np.ones_like(b), b])
    (intercept, beta), *_ = np.linalg.lstsq(design, a, rcond=None)
    residuals = a - design @ np.array([intercept, beta])
    # Two parameters (intercept, hedge ratio) were fitted: n − 2 degrees of freedom.
    std = float(np.std(residuals, ddof=2))
    if not std > 0.0:
        return None
    return _SpreadView(float(residuals[-1]) / std, float(beta), float(intercept), std)


class PairsTradingStrategy(Strategy[PairsConfig]):
    kind = "pairs"
    # 2: open pairs keep the entry regression (intercept, spread_std) their exits judge.
    # 3: and which legs filled, and a leg entry that ended unfilled.
    state_version = 3

    _pairs: dict[tuple[str, str], _PairState]
    _leg_to_pair: dict[str, tuple[str, str]]

    @property
    def lookback(self) -> int:
        return self.config.window

    def handles(self, symbol: str) -> bool:
        return symbol in self._leg_to_pair

    def _reset(self) -> None:
        window = self.config.window
        self._pairs = {
            pair: _PairState(deque(maxlen=window), deque(maxlen=window))
            for pair in self.config.pairs
        }
        self._leg_to_pair = {leg: pair for pair in self.config.pairs for leg in pair}

    def open_pair(self, leg_a: str, leg_b: str) -> OpenPair | None:
        return self._pairs[(leg_a, leg_b)].open

    def last_test(self, leg_a: str, leg_b: str) -> dict[str, Any] | None:
        return self._pairs[(leg_a, leg_b)].last_test

    def blocked_entries(self, leg_a: str, leg_b: str) -> int:
        """Entries the cointegration gate refused so far (the spread was wide enough)."""
        return self._pairs[(leg_a, leg_b)].blocked_entries

    def _on_bar(self, bar: Bar) -> list[Signal]:
        pair = self._leg_to_pair[bar.symbol]
        state = self._pairs[pair]
        opened = state.open
        signals = self._on_leg_bar(pair, state, bar)
        if opened is not None and state.open is opened and opened.leg_missed is not None:
            state.open = None
            state.stopped_direction = opened.direction
            state.last_signal_at = bar.available_at
            return self._leg_signals(pair, bar.available_at, 0.0, 0.0, 1.0, opened.leg_missed, None)
        return signals

    def on_fill(self, fill: Fill) -> None:
        leg, opened = self._open_leg(fill.symbol, fill.side.sign)
        if leg is not None and opened is not None and leg not in opened.filled_legs:
            opened.filled_legs.append(leg)
            opened.leg_missed = None  # a fill that raced the end: the leg is held

    def on_order_ended(self, ended: OrderEnded) -> None:
        leg, opened = self._open_leg(ended.symbol, ended.side.sign)
        if leg is not None and opened is not None and leg not in opened.filled_legs:
            opened.leg_missed = f"{leg} entry not filled ({ended.reason})"

    def _open_leg(self, symbol: str, side: int) -> tuple[str | None, OpenPair | None]:
        """The symbol and its open pair when a trade of `side` is that leg's entry side."""
        pair = self._leg_to_pair.get(symbol)
        opened = None if pair is None else self._pairs[pair].open
        if pair is None or opened is None or opened.leg_side(pair.index(symbol)) != side:
            return None, None
        return symbol, opened

    def _on_leg_bar(self, pair: tuple[str, str], state: _PairState, bar: Bar) -> list[Signal]:
        state.pending[bar.symbol] = _LegBar(bar.ts, bar.available_at, bar.close)
        state.unpaired[bar.symbol] = state.unpaired.get(bar.symbol, 0) + 1
        other = pair[1] if bar.symbol == pair[0] else pair[0]
        partner = state.pending.get(other)
        if partner is None or partner.ts != bar.ts:
            if partner is not None and partner.ts < bar.ts:
                del state.pending[other]  # its own partner bar never came
            elif partner is not None:
                del state.pending[bar.symbol]
            return self._close_if_a_leg_is_silent(pair, state, bar, other)
        leg_a, leg_b = state.pending.pop(pair[0]), state.pending.pop(pair[1])
        state.unpaired.clear()
        if leg_a.close <= 0 or leg_b.close <= 0:
            raise DataError(f"{pair}: non-positive close at {bar.ts.isoformat()}", field="close")
        state.log_a.append(math.log(leg_a.close))
        state.log_b.append(math.log(leg_b.close))
        if len(state.log_a) < self.config.window:
            return []
        asof = max(leg_a.available_at, leg_b.available_at)
        return self._step(pair, state, leg_a, leg_b, asof)

    def _close_if_a_leg_is_silent(
        self, pair: tuple[str, str], state: _PairState, bar: Bar, silent: str
    ) -> list[Signal]:
        limit = self.config.max_unpaired_bars
        if state.open is None or limit is None or state.unpaired[bar.symbol] < limit:
            return []
        state.open = None
        state.last_signal_at = bar.available_at
        reason = f"{silent} printed no bar for {state.unpaired[bar.symbol]} of {bar.symbol}'s"
        return self._leg_signals(pair, bar.available_at, 0.0, 0.0, 1.0, reason, None)

    def _step(
        self,
        pair: tuple[str, str],
        state: _PairState,
        leg_a: _LegBar,
        leg_b: _LegBar,
        asof: datetime,
    ) -> list[Signal]:
        config = self.config
        opened = state.open
        if opened is not None:
            # Exits judge the spread the legs were sized for (entry hedge ratio and mean),
            # not a re-fitted one: a rolling regression absorbs a divergence into its new
            # intercept and slope and would report "reverted" while the held spread is
            # still wide and losing.
            opened.bars_held += 1
            verdict = self._exit_reason(opened, opened.z(state.log_a[-1], state.log_b[-1]))
            if verdict is None:
                return []
            reason, stopped = verdict
            state.open = None
            if stopped:
                state.stopped_direction = opened.direction
            state.last_signal_at = asof
            return self._leg_signals(pair, asof, 0.0, 0.0, 1.0, reason, None)
        view = _spread_view(state.log_a, state.log_b)
        if view is None:
            return []
        if state.stopped_direction and state.stopped_direction * view.z >= -config.exit_z:
            state.stopped_direction = 0
        if abs(view.z) < config.entry_z or (
            config.stop_z is not None and abs(view.z) >= config.stop_z
        ):
            return []
        direction = -1 if view.z > 0 else 1
        if direction == state.stopped_direction:
            # Re-opening the trade a stop just closed, an hour later, at a spread that has
            # not reverted: two round trips of costs and a stop that does not stop.
            return []
        test = self._test(state)
        if test is None or not test.is_cointegrated(config.significance):
            state.blocked_entries += 1
            return []
        state.open = OpenPair(
            direction,
            asof,
            view.z,
            view.hedge_ratio,
            leg_a.close,
            leg_b.close,
            view.intercept,
            view.std,
        )
        state.last_signal_at = asof
        gross = 1.0 + abs(view.hedge_ratio)
        exposure_a = direction * config.max_exposure / gross
        exposure_b = -direction * config.max_exposure * view.hedge_ratio / gross
        reason = (
            f"spread z {view.z:+.3f} beyond ±{config.entry_z}; Engle–Granger t "
            f"{test.statistic:.3f}, p {test.p_value:.4f}; hedge ratio {view.hedge_ratio:.4f}"
        )
        return self._leg_signals(
            pair,
            asof,
            exposure_a,
            exposure_b,
            abs(view.z) / (2.0 * config.entry_z),
            reason,
            1.0 - test.p_value,
        )

    def _exit_reason(self, opened: OpenPair, z: float) -> tuple[str, bool] | None:
        """Why the open pair closes now, and whether it is a stop (None: it stays open)."""
        config = self.config
        if abs(z) <= config.exit_z:
            return f"held spread z {z:+.3f} back inside ±{config.exit_z}", False
        if opened.direction * z > 0:
            # The spread crossed the mean and the exit band in one bar.
            return f"held spread z {z:+.3f} crossed the mean", False
        if config.stop_z is not None and abs(z) >= config.stop_z:
            return f"held spread z {z:+.3f} ran past stop ±{config.stop_z}", True
        max_hold = config.max_holding_bars
        if max_hold is not None and opened.bars_held >= max_hold:
            return f"time_stop after {opened.bars_held} bars", True
        return None

    def _test(self, state: _PairState) -> EngleGrangerResult | None:
        try:
            result = engle_granger(state.log_a, state.log_b, self.config.adf_lags)
        except DataError as error:
            state.last_test = {"error": error.message}
            return None
        state.last_test = {
            "statistic": result.statistic,
            "p_value": result.p_value,
            "critical_values": result.critical_values,
            "hedge_ratio": result.hedge_ratio,
            "lags": result.lags,
        }
        return result

    def _leg_signals(
        self,
        pair: tuple[str, str],
        asof: datetime,
        exposure_a: float,
        exposure_b: float,
        strength: float,
        reason: str,
        confidence: float | None,
    ) -> list[Signal]:
        group = f"pair:{pair[0]}/{pair[1]}"
        return [
            self._signal(
                symbol,
                asof,
                exposure,
                strength,
                reason,
                confidence=confidence,
                group=group,
            )
            for symbol, exposure in ((pair[0], exposure_a), (pair[1], exposure_b))
        ]

    def _dump_state(self) -> dict[str, Any]:
        return {
            f"{a}/{b}": {
                "log_a": list(state.log_a),
                "log_b": list(state.log_b),
                "pending": {leg: bar.to_json() for leg, bar in sorted(state.pending.items())},
                "open": None if state.open is None else state.open.to_json(),
                "last_signal_at": encode_time(state.last_signal_at),
                "last_test": state.last_test,
                "blocked_entries": state.blocked_entries,
                "stopped_direction": state.stopped_direction,
                "unpaired": dict(sorted(state.unpaired.items())),
            }
            for (a, b), state in self._pairs.items()
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        window = self.config.window
        for pair in self.config.pairs:
            entry = state[f"{pair[0]}/{pair[1]}"]
            self._pairs[pair] = _PairState(
                log_a=deque((float(v) for v in entry["log_a"]), maxlen=window),
                log_b=deque((float(v) for v in entry["log_b"]), maxlen=window),
                pending={leg: _LegBar.from_json(bar) for leg, bar in entry["pending"].items()},
                open=None if entry["open"] is None else OpenPair.from_json(entry["open"]),
                last_signal_at=decode_time(entry["last_signal_at"]),
                last_test=entry["last_test"],
                blocked_entries=int(entry["blocked_entries"]),
                stopped_direction=int(entry["stopped_direction"]),
                unpaired={leg: int(n) for leg, n in entry.get("unpaired", {}).items()},
            )
