"""Event streams and a tiny engine stand-in for strategy tests.

The driver plays the engine's part: it hands events to a strategy in time order
and, like the real engine, fills each non-zero signal at the next bar's open of
that symbol and reports the fill back before the strategy sees that bar.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from quantgate.core import Bar, Fill, Horizon, Prediction, Side, Signal
from quantgate.strategy.base import Strategy

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LATENCY = timedelta(minutes=1)

Event = Bar | Prediction


def bar(
    symbol: str,
    index: int,
    close: float,
    *,
    open_: float | None = None,
    high: float | None = None,
    low: float | None = None,
) -> Bar:
    open_ = close if open_ is None else open_
    ts = START + index * HOUR
    return Bar(
        symbol=symbol,
        ts=ts,
        available_at=ts + HOUR + LATENCY,
        open=open_,
        high=max(open_, close) if high is None else high,
        low=min(open_, close) if low is None else low,
        close=close,
        volume=1.0,
    )


def bars_from_closes(symbol: str, closes: Sequence[float], first_index: int = 0) -> list[Bar]:
    """Bars whose open is the previous close and whose range is just open–close."""
    out = []
    previous = closes[0]
    for offset, close in enumerate(closes):
        out.append(bar(symbol, first_index + offset, close, open_=previous))
        previous = close
    return out


def random_walk(n: int, seed: int, *, start: float = 100.0, vol: float = 0.01) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(x) for x in start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))]


def ohlc_walk(symbol: str, closes: Sequence[float], seed: int) -> list[Bar]:
    """Bars with a little wick beyond open and close, so stops and targets can be touched."""
    rng = np.random.default_rng(seed)
    out = []
    previous = closes[0]
    for index, close in enumerate(closes):
        wick_up, wick_down = np.abs(rng.normal(0.0, 0.003, 2))
        out.append(
            bar(
                symbol,
                index,
                close,
                open_=previous,
                high=max(previous, close) * (1.0 + float(wick_up)),
                low=min(previous, close) * (1.0 - float(wick_down)),
            )
        )
        previous = close
    return out


def cointegrated_closes(
    n: int, seed: int, *, beta: float = 1.3, noise: float = 0.02
) -> tuple[list[float], list[float]]:
    """log a = 0.5 + beta · log b + AR(1) noise, with b a random walk."""
    rng = np.random.default_rng(seed)
    log_b = np.log(100.0) + np.cumsum(rng.normal(0.0, 0.01, n))
    spread = np.zeros(n)
    shocks = rng.normal(0.0, noise, n)
    for t in range(1, n):
        spread[t] = 0.7 * spread[t - 1] + shocks[t]
    log_a = 0.5 + beta * log_b + spread
    return [float(x) for x in np.exp(log_a)], [float(x) for x in np.exp(log_b)]


def hourly_prediction(
    hours: float,
    expected: dict[Horizon, float],
    confidence: dict[Horizon, float],
    vol: dict[Horizon, float],
    *,
    symbol: str = "BTCUSDT",
    max_input_available_at: datetime | None = None,
) -> Prediction:
    """A prediction for `symbol` made `hours` after START."""
    return Prediction(
        symbol,
        START + timedelta(hours=hours),
        expected,
        confidence,
        vol,
        max_input_available_at=max_input_available_at,
    )


def predictions(symbol: str, asofs: Sequence[datetime], seed: int) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    out = []
    for asof in asofs:
        expected, confidence, vol = {}, {}, {}
        for horizon in Horizon:
            scale = float(np.sqrt(horizon.hours))
            expected[horizon] = float(rng.normal(0.0, 0.003)) * scale
            confidence[horizon] = float(rng.uniform(0.35, 0.95))
            vol[horizon] = 0.01 * scale * float(rng.uniform(0.7, 1.3))
        out.append(Prediction(symbol, asof, expected, confidence, vol))
    return out


def market(n: int, seed: int, *, with_predictions: bool = True) -> list[Event]:
    """BTC and ETH cointegrated, SOL independent; predictions after each bar, some missing."""
    eth_closes, btc_closes = cointegrated_closes(n, seed)
    sol_closes = random_walk(n, seed + 1, vol=0.012)
    series = {
        "BTCUSDT": ohlc_walk("BTCUSDT", btc_closes, seed + 2),
        "ETHUSDT": ohlc_walk("ETHUSDT", eth_closes, seed + 3),
        "SOLUSDT": ohlc_walk("SOLUSDT", sol_closes, seed + 4),
    }
    forecasts: dict[str, list[Prediction]] = {}
    gaps = np.random.default_rng(seed + 5).uniform(size=n) < 0.15  # model outages
    for offset, symbol in enumerate(series):
        asofs = [b.available_at for b in series[symbol]]
        forecasts[symbol] = predictions(symbol, asofs, seed + 10 + offset)
    events: list[Event] = []
    for index in range(n):
        for symbol in series:
            events.append(series[symbol][index])
        if with_predictions and not gaps[index]:
            for symbol in series:
                events.append(forecasts[symbol][index])
    return events


@dataclass
class Driver:
    """Feeds events to a strategy and fills its targets on the next bar's open."""

    pending: dict[str, Signal] = field(default_factory=dict)
    fills: int = 0

    def feed(self, strategy: Strategy[Any], event: Event) -> list[Signal]:
        if isinstance(event, Prediction):
            signals = strategy.on_prediction(event)
        else:
            self._fill(strategy, event)
            signals = strategy.on_bar(event)
        for signal in signals:
            self.pending[signal.symbol] = signal
        return signals

    def _fill(self, strategy: Strategy[Any], event: Bar) -> None:
        signal = self.pending.pop(event.symbol, None)
        if signal is None or signal.is_exit:
            return
        self.fills += 1
        strategy.on_fill(
            Fill(
                trade_id=f"t{self.fills}",
                client_order_id=f"{signal.strategy}-{self.fills}",
                symbol=event.symbol,
                side=Side.BUY if signal.target_exposure > 0 else Side.SELL,
                quantity=Decimal("1.5"),
                price=Decimal(repr(event.open)) * Decimal("1.0005"),
                fee=Decimal("0.01"),
                filled_at=event.ts,
            )
        )


def run(
    strategy: Strategy[Any], events: Iterable[Event], driver: Driver | None = None
) -> list[Signal]:
    driver = driver or Driver()
    out: list[Signal] = []
    for event in events:
        out.extend(driver.feed(strategy, event))
    return out


def json_round_trip(payload: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint looks like after being written to disk and read back."""
    result: dict[str, Any] = json.loads(json.dumps(payload, allow_nan=False))
    return result


def feed_bars(strategy: Strategy[Any], bars: Iterable[Bar]) -> list[Signal]:
    """Bars only, no fills: the strategy keeps its decision prices."""
    return [signal for b in bars for signal in strategy.on_bar(b)]
