"""Performance of a run from its equity curve, trades and execution trace.

Returns are daily (the last equity of each UTC day, the initial capital before
the first; a mark at midnight, or just after it by the bars' publication latency,
closes the day before, whose last bar it ends, so a window ending at midnight has
no one-hour "day" at its end), annualised with 365
periods (crypto trades every day); drawdown is measured on the full (hourly) curve.
A round trip runs from flat to flat (a flip closes one and opens the next); its PnL
is the realised PnL of its fills, fees included; the hit rate is the share of closed
round trips that made money.
Money figures are exact Decimal strings; ratios are floats.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from quantgate.core.enums import Side
from quantgate.ml.overfitting import max_drawdown, sharpe_ratio, sortino_ratio

ZERO = Decimal(0)
PERIODS_PER_YEAR = 365.0


def finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def daily_returns(curve: pl.DataFrame, initial: float) -> pl.DataFrame:
    """Columns day, equity (last of the day), ret (simple return over the previous day)."""
    if curve.is_empty():
        return pl.DataFrame(schema={"day": pl.Date, "equity": pl.Float64, "ret": pl.Float64})
    # A day's marks run from 00:00 (exclusive) to 24:00 (inclusive): the event at midnight
    # is the close of the bar that ends the day. Marks come at a bar's close plus its
    # publication latency (00:00:05, say), so the latency is taken off first; else the
    # last bar of a window ending at midnight makes a one-hour "day" of its own.
    ordered = curve.sort("ts")
    latency = (ordered["ts"] - ordered["ts"].dt.truncate("1h")).min()
    shift = latency if isinstance(latency, timedelta) else timedelta(0)
    day = (pl.col("ts") - shift - pl.duration(microseconds=1)).dt.date().alias("day")
    days = ordered.group_by(day, maintain_order=True).agg(pl.col("equity").last())
    equity = days["equity"].to_numpy()
    previous = np.concatenate(([initial], equity[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = equity / previous - 1.0
    return days.with_columns(pl.Series("ret", returns, dtype=pl.Float64))


def curve_figures(curve: pl.DataFrame, initial: float) -> dict[str, Any]:
    daily = daily_returns(curve, initial)
    returns = daily["ret"].to_numpy() if not daily.is_empty() else np.zeros(0)
    equity = curve["equity"].to_numpy() if not curve.is_empty() else np.zeros(0)
    path = np.concatenate(([initial], equity))
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly = path[1:] / path[:-1] - 1.0
    gross = curve["gross_exposure"].to_numpy() if not curve.is_empty() else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(equity > 0, gross / equity, np.nan)
    return {
        "sharpe": finite(sharpe_ratio(returns, PERIODS_PER_YEAR)),
        "sortino": finite(sortino_ratio(returns, PERIODS_PER_YEAR)),
        "max_drawdown": finite(max_drawdown(hourly)) if len(hourly) else 0.0,
        "days": len(returns),
        "bars": len(equity),
        "average_equity": finite(float(np.mean(equity))) if len(equity) else initial,
        "average_gross_exposure": finite(float(np.nanmean(exposure))) if len(equity) else 0.0,
        "time_in_market": finite(float(np.mean(gross > 0))) if len(gross) else 0.0,
        "first": curve["ts"].min() if len(equity) else None,
        "last": curve["ts"].max() if len(equity) else None,
    }


@dataclass
class RoundTrip:
    symbol: str
    bucket: str
    horizon: str
    direction: int
    pnl: Decimal = ZERO
    closed: bool = False


def round_trips(trades: pl.DataFrame) -> list[RoundTrip]:
    """Flat-to-flat trips per symbol, in fill order."""
    trips: list[RoundTrip] = []
    open_trips: dict[str, RoundTrip] = {}
    for row in trades.iter_rows(named=True):
        symbol = row["symbol"]
        delta = row["realized_delta"]
        after = row["position_after"]
        trip = open_trips.get(symbol)
        if trip is not None:
            trip.pnl += delta
            if after == 0 or (after > 0) != (trip.direction > 0):
                trip.closed = True
                del open_trips[symbol]
                if after != 0:
                    opened = RoundTrip(
                        symbol, row["bucket"], row["horizon"], 1 if after > 0 else -1
                    )
                    trips.append(opened)
                    open_trips[symbol] = opened
        elif after != 0:
            opened = RoundTrip(symbol, row["bucket"], row["horizon"], 1 if after > 0 else -1)
            opened.pnl += delta
            trips.append(opened)
            open_trips[symbol] = opened
    return trips


@dataclass
class _Group:
    fills: int = 0
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    spread_impact_cost: Decimal = ZERO
    shortfall: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    trips: list[RoundTrip] = field(default_factory=list)

    def to_json(self, average_equity: float) -> dict[str, Any]:
        closed = [t for t in self.trips if t.closed]
        wins = sum(1 for t in closed if t.pnl > 0)
        return {
            "fills": self.fills,
            "notional": str(self.notional),
            "turnover": finite(float(self.notional) / average_equity) if average_equity else None,
            "fees": str(self.fees),
            "spread_impact_cost": str(self.spread_impact_cost),
            "implementation_shortfall": str(self.shortfall),
            "total_costs": str(self.fees + self.spread_impact_cost),
            "realized_pnl": str(self.realized_pnl),
            "unrealized_pnl": str(self.unrealized_pnl),
            "net_pnl": str(self.realized_pnl + self.unrealized_pnl),
            "round_trips": len(closed),
            "open_round_trips": len(self.trips) - len(closed),
            "winning_round_trips": wins,
            "hit_rate": (wins / len(closed)) if closed else None,
        }


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def trade_figures(
    trades: pl.DataFrame,
    trace: pl.DataFrame,
    unrealized: Mapping[str, Decimal],
    buckets: Mapping[str, str],
    average_equity: float,
) -> dict[str, Any]:
    """Costs, PnL, round trips and hit rate in total and by symbol, bucket and horizon."""
    slip: dict[str, tuple[Decimal, Decimal]] = {}
    for row in trace.iter_rows(named=True):
        # From the prices, not the float bps columns: bps are relative to the reference
        # price, so bps x fill notional overstates the cost by the slippage itself, and
        # the float would spoil figures the run reports as exact.
        sign = Side(row["side"]).sign
        quantity, fill = _money(row["quantity"]), _money(row["fill_price"])
        arrival = sign * (fill - _money(row["arrival_mid"])) * quantity
        decision = sign * (fill - _money(row["decision_price"])) * quantity
        slip[row["trade_id"]] = (arrival, decision)
    total = _Group()
    groups: dict[str, dict[str, _Group]] = {
        "by_symbol": defaultdict(_Group),
        "by_bucket": defaultdict(_Group),
        "by_horizon": defaultdict(_Group),
    }
    for row in trades.iter_rows(named=True):
        arrival, decision = slip.get(row["trade_id"], (ZERO, ZERO))
        keys = {
            "by_symbol": row["symbol"],
            "by_bucket": row["bucket"],
            "by_horizon": row["horizon"],
        }
        for group in (total, *(groups[name][key] for name, key in keys.items())):
            group.fills += 1
            group.notional += row["notional"]
            group.fees += row["fee"]
            group.spread_impact_cost += arrival
            group.shortfall += decision
            group.realized_pnl += row["realized_delta"]
    trips = round_trips(trades)
    for trip in trips:
        total.trips.append(trip)
        groups["by_symbol"][trip.symbol].trips.append(trip)
        groups["by_bucket"][trip.bucket].trips.append(trip)
        groups["by_horizon"][trip.horizon].trips.append(trip)
    open_horizon = {trip.symbol: trip.horizon for trip in trips if not trip.closed}
    for symbol, pnl in unrealized.items():
        total.unrealized_pnl += pnl
        groups["by_symbol"][symbol].unrealized_pnl += pnl
        groups["by_bucket"][buckets.get(symbol, "other")].unrealized_pnl += pnl
        groups["by_horizon"][open_horizon.get(symbol, "unknown")].unrealized_pnl += pnl
    figures = total.to_json(average_equity)
    for name, by_key in groups.items():
        figures[name] = {key: g.to_json(average_equity) for key, g in sorted(by_key.items())}
    return figures


def sharpe_of_daily(curve: pl.DataFrame, initial: float) -> float | None:
    daily = daily_returns(curve, initial)
    return finite(sharpe_ratio(daily["ret"].to_numpy(), PERIODS_PER_YEAR))


def aligned_daily_returns(
    curves: Iterable[tuple[str, pl.DataFrame, float]],
) -> pl.DataFrame:
    """Daily returns of several runs on the days they all share (one column per run)."""
    frames = [
        daily_returns(curve, initial).select("day", pl.col("ret").alias(name))
        for name, curve, initial in curves
    ]
    if not frames:
        return pl.DataFrame()
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.join(frame, on="day", how="inner")
    return joined.sort("day")
