"""The simulated brokers on two weeks of real Binance BTCUSDT hours, every fill checked to
the cent against a computation straight from the CSV (plain Python and Decimal): the next
open, half-spread max(1, 0.05 · σ) bps, impact σ · sqrt(q / V) · 10⁴ bps with σ the EWMA
(half-life 24 bars) of squared hourly log returns up to the bar before, the 10 % volume
cap on the 0.00001 lot, the 0.01 tick against us, and Binance's 10 bps taker fee.
"""

from __future__ import annotations

import csv
import gzip
import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from quantgate.core import (
    AssetClass,
    Bar,
    Bucket,
    Instrument,
    Order,
    OrderType,
    Side,
    SimulatedClock,
)
from quantgate.engine.sim_broker import FastSimulatedBroker
from quantgate.execution import (
    CostModelConfig,
    SimBrokerConfig,
    SimulatedBroker,
    StandardCostModel,
    TimeInForce,
)

D = Decimal
HOUR = timedelta(hours=1)
START, END = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 15, tzinfo=UTC)
WARMUP_BARS = 48
HALFLIFE, MIN_BARS, DEFAULT_SIGMA = 24.0, 12, 0.01
TICK, LOT, CAP, FEE_BPS = D("0.01"), D("0.00001"), D("0.1"), D(10)
# Small, medium, and beyond the 10 % cap of a quiet hour.
QUANTITIES = [D("0.5"), D(5), D(300)]
BTC = Instrument(
    symbol="BTCUSDT",
    venue="binance",
    asset_class=AssetClass.CRYPTO_SPOT,
    bucket=Bucket.MAJORS,
    tick_size=TICK,
    lot_size=LOT,
    listing_date=date(2017, 8, 17),
)


def rows(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "binance_spot_1h" / "BTCUSDT_1h.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    first = START - WARMUP_BARS * HOUR
    with gzip.open(path, "rt", newline="") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if first <= datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")) < END
        ]


def expected_fills(table: list[dict[str, str]]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    alpha = 1 - 0.5 ** (1 / HALFLIFE)
    variance, seen, last_close = 0.0, 0, None
    pending: tuple[str, Side, Decimal] | None = None
    fills = []
    for index, row in enumerate(table):
        open_, volume = D(row["open"]), D(row["volume"])
        if pending is not None:
            cid, side, wanted = pending
            room = (CAP * volume / LOT).to_integral_value(ROUND_FLOOR) * LOT
            quantity = min(wanted, room)
            if quantity > 0:
                sigma = math.sqrt(variance) if seen >= MIN_BARS else DEFAULT_SIGMA
                half_spread = round(max(1.0, 0.05 * sigma * 10_000), 6)
                impact = round(min(sigma * math.sqrt(float(quantity / volume)) * 10_000, 500), 6)
                bps = D(f"{half_spread + impact:.6f}")
                raw = open_ * (1 + side.sign * bps / 10_000)
                rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
                price = (raw / TICK).to_integral_value(rounding) * TICK
                fills.append((cid, quantity, price, quantity * price * FEE_BPS / 10_000))
        close = float(row["close"])
        if last_close is not None:
            squared = math.log(close / last_close) ** 2
            variance = squared if seen == 0 else variance + alpha * (squared - variance)
            seen += 1
        last_close = close
        pending = None
        if index >= WARMUP_BARS - 1 and index + 1 < len(table):
            side = Side.BUY if index % 2 else Side.SELL
            pending = (f"o{index}", side, QUANTITIES[index % len(QUANTITIES)])
    return fills


@pytest.mark.parametrize("kind", [SimulatedBroker, FastSimulatedBroker])
def test_real_hours_fill_to_the_cent(kind: type[SimulatedBroker], shared_data: Path) -> None:
    table = rows(shared_data)
    assert len(table) == WARMUP_BARS + 14 * 24
    clock = SimulatedClock(START - WARMUP_BARS * HOUR)
    broker = kind(
        clock,
        StandardCostModel(CostModelConfig(default_volatility=DEFAULT_SIGMA)),
        SimBrokerConfig(
            venue="binance",
            volatility_halflife_bars=HALFLIFE,
            volatility_min_bars=MIN_BARS,
            participation_cap=float(CAP),
        ),
    )
    for index, row in enumerate(table):
        ts = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        values = [float(row[name]) for name in ("open", "high", "low", "close", "volume")]
        clock.advance_to(ts + HOUR)
        broker.on_bar(Bar("BTCUSDT", ts, ts + HOUR, *values))
        if index >= WARMUP_BARS - 1 and index + 1 < len(table):
            side = Side.BUY if index % 2 else Side.SELL
            order = Order(
                client_order_id=f"o{index}",
                strategy="audit",
                instrument=BTC,
                side=side,
                order_type=OrderType.MARKET,
                quantity=QUANTITIES[index % len(QUANTITIES)],
                created_at=clock.now(),
            )
            broker.submit(order, time_in_force=TimeInForce.IOC)

    actual = [
        (f.client_order_id, f.quantity, f.price, f.fee) for f in broker.fills_since(None).fills
    ]
    expected = expected_fills(table)
    assert len(expected) == 14 * 24  # one order per hour, each filled at least in part
    # Some hours were too quiet for the largest order: the cap must have cut it.
    assert any(quantity not in QUANTITIES for _, quantity, _, _ in expected)
    assert actual == expected
