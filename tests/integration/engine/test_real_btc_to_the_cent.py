"""A fixed rule on the real Binance BTCUSDT hourly history, checked to the cent against a
computation straight from the raw CSV with plain Python and Decimal.

The rule (momentum, long only): go long when the close is more than 8 % above the close
72 bars earlier, go flat when it is below it. Sizing: half the equity (cash plus the
position at the signal bar's close) over that close, down to the 0.00001 BTC lot.
Execution: a market order filled at the next bar's open, plus a 2 bps half-spread,
rounded to the 0.01 tick against us, at most 10 % of that bar's volume (the rest is
cancelled), Binance's 10 bps taker fee.
"""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from pathlib import Path

import polars as pl
import pytest

from quantgate.data.files import import_path
from quantgate.engine.backtest import BacktestConfig, run_backtest
from quantgate.storage import Lake

D = Decimal
START, END = datetime(2018, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
LOOKBACK, ENTRY, EXIT = 72, 0.08, 0.0
CAPITAL, FRACTION = D(10_000), D("0.5")
LOT, TICK = D("0.00001"), D("0.01")
HALF_SPREAD_BPS, FEE_BPS, PARTICIPATION = D(2), D(10), D("0.1")
MIN_NOTIONAL = D(10)
BPS = D(10_000)


def expected_trades(
    path: Path,
) -> tuple[list[tuple[datetime, str, Decimal, Decimal, Decimal]], Decimal, Decimal, Decimal]:
    """(trades as (bar ts, side, quantity, price, fee), cash, position, last close)."""
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    closes: list[float] = []
    wanted = 0
    cash, position = CAPITAL, D(0)
    pending: tuple[int, Decimal] | None = None  # (sign, quantity) to trade at the next open
    trades = []
    close = D(0)
    for row in rows:
        ts = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        open_, close, volume = D(row["open"]), D(row["close"]), D(row["volume"])
        if pending is not None:
            sign, quantity = pending
            room = (PARTICIPATION * volume / LOT).to_integral_value(ROUND_FLOOR) * LOT
            quantity = min(quantity, room)
            if quantity > 0:
                raw = open_ * (1 + sign * HALF_SPREAD_BPS / BPS)
                rounding = ROUND_CEILING if sign > 0 else ROUND_FLOOR
                price = (raw / TICK).to_integral_value(rounding) * TICK
                fee = quantity * price * FEE_BPS / BPS
                cash -= sign * quantity * price + fee
                position += sign * quantity
                trades.append((ts, "buy" if sign > 0 else "sell", quantity, price, fee))
            pending = None
        closes.append(float(row["close"]))
        if len(closes) <= LOOKBACK:
            continue
        score = closes[-1] / closes[-1 - LOOKBACK] - 1.0
        if score > ENTRY:
            now = 1
        elif wanted == 1 and score < EXIT:
            now = 0
        else:
            now = wanted
        if now == wanted:
            continue
        wanted = now
        target = D(0)
        if now == 1:
            equity = cash + position * close
            target = (equity * FRACTION / close / LOT).to_integral_value(ROUND_DOWN) * LOT
        delta = target - position
        if delta != 0 and abs(delta) * close >= MIN_NOTIONAL:
            pending = (1 if delta > 0 else -1, abs(delta))
    return trades, cash, position, close


@pytest.mark.realdata
def test_btc_rule_matches_an_independent_decimal_computation(
    shared_data: Path, tmp_path: Path
) -> None:
    raw = shared_data / "binance_spot_1h" / "BTCUSDT_1h.csv.gz"
    lake = Lake(tmp_path / "lake")
    import_path(lake, raw)
    config = BacktestConfig.parse(
        {
            "strategy": "momentum",
            "params": {
                "lookback": LOOKBACK,
                "entry_threshold": ENTRY,
                "exit_threshold": EXIT,
                "allow_short": False,
            },
            "symbols": ["BTCUSDT"],
            "start": START.isoformat(),
            "end": END.isoformat(),
            "capital": str(CAPITAL),
            "broker": {"venue": "binance", "participation_cap": 0.1},
            "costs": {
                "min_half_spread_bps": 2.0,
                "spread_volatility_coefficient": 0.0,
                "impact_coefficient": 0.0,
            },
            "short_horizon": {"order_type": "market", "min_notional": "10"},
            "portfolio": {"allocator": "legacy"},
            "engine": {"capital_fraction": 0.5, "min_trade_weight": 0.0},
            "instruments": {"default_tick_size": "0.01", "default_lot_size": "0.00001"},
        }
    )
    assert isinstance(config, BacktestConfig)
    result = run_backtest(config, tmp_path / "home", lake=lake)
    assert result.completed

    trades, cash, position, last_close = expected_trades(raw)
    assert len(trades) > 300
    actual = pl.read_parquet(result.run_dir / "trades.parquet").sort("filled_at")
    # The fill is stamped when the order reached the venue (5 s into the next bar).
    got = [
        (r["filled_at"].replace(second=0), r["side"], r["quantity"], r["price"], r["fee"])
        for r in actual.iter_rows(named=True)
    ]
    assert got == trades

    metrics = result.metrics
    equity = cash + position * last_close
    cent = D("0.01")
    assert D(metrics["cash"]).quantize(cent) == cash.quantize(cent)
    assert D(metrics["final_equity"]).quantize(cent) == equity.quantize(cent)
    assert D(metrics["net_pnl"]).quantize(cent) == (equity - CAPITAL).quantize(cent)
    assert D(metrics["fees"]).quantize(cent) == sum(t[4] for t in trades).quantize(cent)
    assert D(metrics["positions"].get("BTCUSDT", "0")) == position
    # Exact, not only to the cent: the same arithmetic in the same order.
    assert D(metrics["final_equity"]) == equity
