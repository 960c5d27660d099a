"""Benchmark: event-driven backtest throughput of MomentumStrategy, ours vs backtrader and
nautilus_trader, on the same synthetic bars (8 symbols × 2018-now, hourly).

The rule everywhere: per symbol, the lookback return over LOOKBACK bars; long above
+ENTRY, short below -ENTRY, flat again when it falls back through ±EXIT (hysteresis);
market orders filled at the next bar's open; 5 bps taker fee. Our simulated broker takes
at most `participation_cap` of a bar's volume; its default (10 %) left many orders partly
filled here, each gap re-sized at the next rebalance (22,210 orders against backtrader's
15,634), so the benchmark lifts the cap to the whole bar, as the competitors fill.
Up to 2021 the orders then match a direct computation of the rule one for one; later
the compounding book outgrows some bars' volume and ours still fills no more than the bar
traded, which is why it sends somewhat more orders than backtrader. Its default would
follow such a remainder up at the next bars (ShortHorizonConfig.follow_ups: 21,278 orders
instead of 17,091 here); the competitors fill whole orders whatever the volume and never
do that work, so the benchmark turns follow-ups off and the gap waits for the next
rebalance, as theirs never opens.

Sizing: ours and backtrader split CAPITAL_FRACTION of equity equally over the symbols
with an active signal (our legacy allocator) and skip re-sizings under MIN_TRADE of
equity; nautilus_trader sizes each symbol at a fixed 1/8 (re-balancing across symbols
is awkward there), so it sends fewer orders — the order counts are printed.

Ours is timed three ways: end to end (every order through the outbox, the risk gate and
the simulated broker, its rows written in the run's SQLite file: one unit of work per
engine event, committed when the run ends, as a backtest commits at its checkpoints;
the final commit and the build of the indexes held back during the run are inside the
timing; the garbage collector set as `Backtest.run` sets
it); the same minus the time inside the gateway and risk gate (the engine's own cost);
and the loop alone on the same bars with thresholds no bar reaches (no orders at all).
Every engine runs `--repeat` times (default 3), in interleaved rounds so that a slow
spell of a shared machine hits them alike; each engine's fastest run is its figure (as
timeit reports), with its slowest beside it. Prints figures and ratios; asserts nothing
on time. `--profile` adds a cProfile of the order-free loop, `--profile-orders` one of
the end to end run (each in a run of its own); `--years N` keeps the last N years only;
`--only-ours` skips the competitors. A competitor that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import math
import pstats
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import structlog
from machine_load import CpuWatch

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.engine.backtest import Backtest, BacktestConfig, runs_root
from quantgate.engine.feeds import FrameBarFeed
from quantgate.engine.gc_policy import batch_collection
from quantgate.storage.deferred_indexes import build_indexes

LOOKBACK = 168
ENTRY = 0.10
EXIT = 0.02
CAPITAL = 100_000.0
CAPITAL_FRACTION = 0.98
MIN_TRADE = 0.05
FEE = 0.0005
PROFILE_LINES = 25


def synthetic_bars() -> pl.DataFrame:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    source = SyntheticMarketSource(SyntheticMarketConfig(end=end))
    start = source.config.start
    return pl.concat([source.fetch_bars(s, start, end) for s in source.symbols()])


# -- ours ----------------------------------------------------------------------------------------


def our_config(frame: pl.DataFrame, entry: float, exit_: float) -> BacktestConfig:
    config = BacktestConfig.parse(
        {
            "strategy": "momentum",
            "params": {"lookback": LOOKBACK, "entry_threshold": entry, "exit_threshold": exit_},
            "symbols": sorted(frame["symbol"].unique().to_list()),
            "start": frame["ts"].min(),
            "end": frame["ts"].max() + timedelta(hours=1),
            "capital": str(CAPITAL),
            "costs": {
                "min_half_spread_bps": 0.0,
                "spread_volatility_coefficient": 0.0,
                "impact_coefficient": 0.0,
            },
            # Market orders; a remainder the bar's volume left is not followed up (see above).
            "short_horizon": {"order_type": "market", "follow_ups": 0},
            # Whole orders fill at the next open, as in backtrader and nautilus_trader.
            "broker": {"participation_cap": 1.0},
            "portfolio": {"allocator": "legacy"},
            "engine": {"capital_fraction": CAPITAL_FRACTION, "min_trade_weight": MIN_TRADE},
        }
    )
    assert isinstance(config, BacktestConfig)
    return config


def run_ours(
    frame: pl.DataFrame,
    *,
    entry: float,
    exit_: float,
    profile: str | None = None,
) -> dict[str, Any]:
    feed = FrameBarFeed(frame)
    with tempfile.TemporaryDirectory() as home:
        backtest = Backtest.create(
            our_config(frame, entry, exit_), runs_root(Path(home)), feed=feed
        )
        loop = backtest.build(resume=False)
        profiler = cProfile.Profile() if profile is not None else None
        began = time.perf_counter()
        assert backtest.database is not None
        with batch_collection():  # as Backtest.run
            if profiler is not None:
                profiler.enable()
            loop.run()
            build_indexes(backtest.database)  # as Backtest.finish, first thing
            if profiler is not None:
                profiler.disable()
        elapsed = time.perf_counter() - began
        stats = loop.stats
        equity = loop.exact_equity()
        backtest.database.dispose()
    if profiler is not None:
        print(f"\n-- cProfile of {profile} (top {PROFILE_LINES} by own time) --")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(PROFILE_LINES)
    return {
        "seconds": elapsed,
        "bars": stats.bars,
        "events": stats.events,
        "orders": sum(stats.submits.values()),
        "fills": loop.state.fill_count,
        "order_path_seconds": stats.order_path_seconds,
        "final_equity": float(equity),
    }


# -- backtrader ------------------------------------------------------------------------------------


def run_backtrader(frame: pl.DataFrame) -> dict[str, Any] | None:
    try:
        import backtrader as bt
    except ImportError:
        return None

    class Momentum(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.closes = {d._name: deque(maxlen=LOOKBACK + 1) for d in self.datas}
            self.direction = dict.fromkeys(self.closes, 0)
            self.seen = dict.fromkeys(self.closes, None)
            self.orders = 0

        def prenext(self) -> None:
            self.next()

        def next(self) -> None:
            changed = False
            for data in self.datas:
                if len(data) == 0:
                    continue
                stamp = data.datetime[0]
                name = data._name
                if self.seen[name] == stamp:
                    continue  # this feed had no new bar at this time
                self.seen[name] = stamp
                closes = self.closes[name]
                closes.append(data.close[0])
                if len(closes) <= LOOKBACK:
                    continue
                score = closes[-1] / closes[0] - 1.0
                current = self.direction[name]
                wanted = current
                if score > ENTRY:
                    wanted = 1
                elif score < -ENTRY:
                    wanted = -1
                elif (current == 1 and score < EXIT) or (current == -1 and score > -EXIT):
                    wanted = 0
                if wanted != current:
                    self.direction[name] = wanted
                    changed = True
            if not changed:
                return
            active = [n for n, d in self.direction.items() if d]
            weight = CAPITAL_FRACTION / len(active) if active else 0.0
            value = self.broker.getvalue()
            for data in self.datas:
                name = data._name
                if len(data) == 0:
                    continue
                target = self.direction[name] * weight
                held = self.getposition(data).size * data.close[0] / value if value else 0.0
                if target != 0 and abs(target - held) < MIN_TRADE:
                    continue
                if target == 0 and held == 0:
                    continue
                self.order_target_percent(data=data, target=target)
                self.orders += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(CAPITAL)
    cerebro.broker.setcommission(commission=FEE)
    for symbol in sorted(frame["symbol"].unique().to_list()):
        part = (
            frame.filter(pl.col("symbol") == symbol)
            .sort("ts")
            .select(
                pl.col("ts").dt.replace_time_zone(None).alias("datetime"),
                "open",
                "high",
                "low",
                "close",
                "volume",
            )
            .to_pandas()
            .set_index("datetime")
        )
        cerebro.adddata(bt.feeds.PandasData(dataname=part, openinterest=None), name=symbol)
    cerebro.addstrategy(Momentum)
    began = time.perf_counter()
    (strategy,) = cerebro.run()
    elapsed = time.perf_counter() - began
    return {
        "seconds": elapsed,
        "bars": frame.height,
        "orders": strategy.orders,
        "final_equity": cerebro.broker.getvalue(),
    }


# -- nautilus_trader -----------------------------------------------------------------------------


def run_nautilus(frame: pl.DataFrame) -> dict[str, Any] | None:
    try:
        from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
        from nautilus_trader.config import LoggingConfig, StrategyConfig
        from nautilus_trader.model.currencies import USDT
        from nautilus_trader.model.data import Bar, BarType
        from nautilus_trader.model.enums import (
            AccountType,
            CurrencyType,
            OmsType,
            OrderSide,
        )
        from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
        from nautilus_trader.model.instruments import CurrencyPair
        from nautilus_trader.model.objects import Currency, Money, Price, Quantity
        from nautilus_trader.persistence.wranglers import BarDataWrangler
        from nautilus_trader.trading.strategy import Strategy
    except ImportError:
        return None

    venue = Venue("SIM")
    symbols = sorted(frame["symbol"].unique().to_list())

    def instrument(symbol: str) -> CurrencyPair:
        base = symbol.removesuffix("USDT")
        return CurrencyPair(
            instrument_id=InstrumentId(Symbol(symbol), venue),
            raw_symbol=Symbol(symbol),
            base_currency=Currency(base, 8, 0, base, CurrencyType.CRYPTO),
            quote_currency=USDT,
            price_precision=8,
            size_precision=4,
            price_increment=Price(1e-08, precision=8),
            size_increment=Quantity(1e-04, precision=4),
            lot_size=None,
            max_quantity=None,
            min_quantity=None,
            max_notional=None,
            min_notional=None,
            max_price=None,
            min_price=None,
            margin_init=Decimal(0),
            margin_maint=Decimal(0),
            maker_fee=Decimal(repr(FEE)),
            taker_fee=Decimal(repr(FEE)),
            ts_event=0,
            ts_init=0,
        )

    class MomentumConfig(StrategyConfig, frozen=True):  # type: ignore[misc,call-arg]
        bar_types: tuple[str, ...]

    class Momentum(Strategy):  # type: ignore[misc]
        def __init__(self, config: MomentumConfig) -> None:
            super().__init__(config)
            self.types = [BarType.from_str(t) for t in config.bar_types]
            self.closes: dict[Any, deque[float]] = {}
            self.direction: dict[Any, int] = {}
            self.orders = 0

        def on_start(self) -> None:
            for bar_type in self.types:
                self.subscribe_bars(bar_type)

        def on_bar(self, bar: Bar) -> None:
            key = bar.bar_type.instrument_id
            closes = self.closes.setdefault(key, deque(maxlen=LOOKBACK + 1))
            close = float(bar.close)
            closes.append(close)
            if len(closes) <= LOOKBACK:
                return
            score = closes[-1] / closes[0] - 1.0
            current = self.direction.get(key, 0)
            wanted = current
            if score > ENTRY:
                wanted = 1
            elif score < -ENTRY:
                wanted = -1
            elif (current == 1 and score < EXIT) or (current == -1 and score > -EXIT):
                wanted = 0
            if wanted == current:
                return
            self.direction[key] = wanted
            account = self.portfolio.account(venue)
            equity = float(account.balance_total(USDT).as_double())
            for pnl in (self.portfolio.unrealized_pnls(venue) or {}).values():
                equity += float(pnl.as_double())
            target = wanted * equity * CAPITAL_FRACTION / len(symbols) / close
            held = float(self.portfolio.net_position(key))
            delta = round(target - held, 4)
            if delta == 0:
                return
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            item = self.cache.instrument(key)
            order = self.order_factory.market(key, side, item.make_qty(abs(delta)))
            self.submit_order(order)
            self.orders += 1

    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        starting_balances=[Money(CAPITAL, USDT)],
        base_currency=USDT,
        default_leverage=Decimal(1),
    )
    bar_types = []
    for symbol in symbols:
        item = instrument(symbol)
        engine.add_instrument(item)
        bar_type = BarType.from_str(f"{symbol}.SIM-1-HOUR-LAST-EXTERNAL")
        bar_types.append(str(bar_type))
        part = (
            frame.filter(pl.col("symbol") == symbol)
            .sort("ts")
            .select(pl.col("ts").alias("timestamp"), "open", "high", "low", "close", "volume")
            .to_pandas()
            .set_index("timestamp")
        )
        engine.add_data(BarDataWrangler(bar_type, item).process(part))
    strategy = Momentum(MomentumConfig(bar_types=tuple(bar_types)))
    engine.add_strategy(strategy)
    began = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - began
    account = engine.portfolio.account(venue)
    result = {
        "seconds": elapsed,
        "bars": frame.height,
        "orders": strategy.orders,
        "final_equity": float(account.balance_total(USDT).as_double()),
    }
    engine.dispose()
    return result


# -- report --------------------------------------------------------------------------------------


def fastest(results: list[dict[str, Any]]) -> dict[str, Any]:
    return min(results, key=lambda result: result["seconds"])


def slowest_rate(results: list[dict[str, Any]]) -> float:
    return min(rate(result) for result in results)


def rate(result: dict[str, Any], seconds: float | None = None) -> float:
    spent = result["seconds"] if seconds is None else seconds
    return result["bars"] / spent if spent > 0 else math.inf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true", help="cProfile the order-free loop")
    parser.add_argument(
        "--profile-orders", action="store_true", help="cProfile the end-to-end run (with orders)"
    )
    parser.add_argument(
        "--only-ours", action="store_true", help="skip backtrader and nautilus_trader"
    )
    parser.add_argument("--years", type=float, default=None, help="only the last N years")
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved runs per engine (fastest reported)"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    began = time.perf_counter()
    frame = synthetic_bars()
    if args.years:
        cutoff = frame["ts"].max() - timedelta(days=365 * args.years)
        frame = frame.filter(pl.col("ts") >= cutoff)
    print(
        f"data: {frame.height:,} hourly bars, {frame['symbol'].n_unique()} symbols, "
        f"{frame['ts'].min()} .. {frame['ts'].max()} (generated in "
        f"{time.perf_counter() - began:.1f} s)"
    )
    print(f"rule: lookback {LOOKBACK} bars, entry ±{ENTRY:.0%}, exit ±{EXIT:.0%}\n")

    # Separate runs: the profiler's overhead must not reach the figures.
    if args.profile:
        run_ours(frame, entry=1e9, exit_=0.0, profile="the order-free loop")
    if args.profile_orders:
        run_ours(frame, entry=ENTRY, exit_=EXIT, profile="the end-to-end run")
    # Interleaved rounds: a slow spell of a shared machine hits every engine alike. Each
    # engine's fastest run is its figure (as timeit reports), its slowest is shown beside it.
    runners = {
        "backtrader": run_backtrader,
        "nautilus_trader": run_nautilus,
    }
    runs: dict[str, list[dict[str, Any]]] = {"idle": [], "ours": []}
    watch = CpuWatch()
    for _ in range(args.repeat):
        runs["idle"].append(run_ours(frame, entry=1e9, exit_=0.0))
        runs["ours"].append(run_ours(frame, entry=ENTRY, exit_=EXIT))
        for name, runner in runners.items():
            if args.only_ours or runs.get(name) == []:
                continue  # skipped, or not installed (said once, below)
            result = runner(frame)
            runs.setdefault(name, [])
            if result is not None:
                runs[name].append(result)
    idle, ours = fastest(runs["idle"]), fastest(runs["ours"])
    engine_only = ours["seconds"] - ours["order_path_seconds"]
    rows = [
        ("quantgate, loop alone (no orders)", idle, rate(idle), slowest_rate(runs["idle"])),
        ("quantgate, end to end", ours, rate(ours), slowest_rate(runs["ours"])),
        ("quantgate, minus gateway + risk gate time", ours, rate(ours, engine_only), None),
    ]
    competitors = {}
    for name in runners:
        if name not in runs:
            continue
        if not runs[name]:
            print(f"{name}: skipped (not installed)")
            continue
        best = fastest(runs[name])
        competitors[name] = rate(best)
        rows.append((name, best, rate(best), slowest_rate(runs[name])))

    print(f"best of {args.repeat} interleaved runs; 'slowest' is the worst run's bars/s\n")
    print(
        f"{'engine':<44}{'bars/s':>12}{'slowest':>10}{'seconds':>10}{'orders':>9}"
        f"{'final equity':>16}"
    )
    for label, result, bars_per_second, worst in rows:
        seconds = result["bars"] / bars_per_second if bars_per_second else float("nan")
        worst_text = "" if worst is None else f"{worst:,.0f}"
        print(
            f"{label:<44}{bars_per_second:>12,.0f}{worst_text:>10}{seconds:>10.2f}"
            f"{result.get('orders', 0):>9,}{result.get('final_equity', float('nan')):>16,.0f}"
        )
    print(
        f"\nquantgate order path: {ours['order_path_seconds']:.2f} s for {ours['orders']:,} "
        f"orders ({1000 * ours['order_path_seconds'] / max(ours['orders'], 1):.1f} ms each); "
        f"events {ours['events']:,}, fills {ours['fills']:,}"
    )
    for name, competitor in competitors.items():
        print(
            f"ratio vs {name}: end to end {rate(ours) / competitor:.2f}x, "
            f"minus order path {rate(ours, engine_only) / competitor:.2f}x, "
            f"loop alone {rate(idle) / competitor:.2f}x"
        )
    print("targets: >= 150,000 bars/s and >= 10x backtrader (reported, not asserted)")
    print(watch.verdict())


if __name__ == "__main__":
    main()
