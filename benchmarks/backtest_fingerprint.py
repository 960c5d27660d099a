"""Fingerprint of the throughput benchmark's backtest, for optimising without changing results.

Runs the same momentum backtest as bench_backtest.py (the same rule, costs and sizing) on
a fixed window of the synthetic market (ending 2026-11-01, the last `--years` years) under
a fixed run id, then prints the counts, the exact final equity and cash, and one sha256
per database table (rows sorted, autoincrement ids and wall-clock `updated_at` columns
left out) and per Parquet output. Run it before and after a change: any difference below
the first line (timing) means the change altered a result.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa
import structlog
from bench_backtest import ENTRY, EXIT, our_config

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.engine.backtest import DB_FILE, Backtest, runs_root
from quantgate.engine.feeds import FrameBarFeed

END = datetime(2026, 11, 1, tzinfo=UTC)
# Tables whose rows carry wall-clock times besides their content.
WALL_CLOCK_COLUMNS = {"risk_state": "updated_at", "job_checkpoints": "updated_at"}
SKIPPED_TABLES = {"quantgate_schema_version"}


def window(years: int) -> pl.DataFrame:
    source = SyntheticMarketSource(SyntheticMarketConfig(end=END))
    frame = pl.concat([source.fetch_bars(s, source.config.start, END) for s in source.symbols()])
    return frame.filter(pl.col("ts") >= END.replace(year=END.year - years))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=2, help="the window's length in years")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    frame = window(args.years)
    with tempfile.TemporaryDirectory() as home:
        backtest = Backtest.create(
            our_config(frame, ENTRY, EXIT),
            runs_root(Path(home)),
            feed=FrameBarFeed(frame),
            run_id="fingerprint",
        )
        began = time.perf_counter()
        backtest.run()
        seconds = time.perf_counter() - began
        loop = backtest.loop
        assert loop is not None
        print(
            f"bars {loop.stats.bars} orders {sum(loop.stats.submits.values())} "
            f"fills {loop.state.fill_count} seconds {seconds:.2f} "
            f"bars/s {loop.stats.bars / seconds:,.0f}"
        )
        print("equity", loop.exact_equity(), "cash", loop.state.cash)
        engine = sa.create_engine(f"sqlite:///{backtest.run_dir / DB_FILE}")
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                if name in SKIPPED_TABLES:
                    continue
                columns = [
                    column
                    for column in table.columns
                    if not (column.name == "id" and column.primary_key)
                    and WALL_CLOCK_COLUMNS.get(name) != column.name
                ]
                rows = sorted(
                    tuple(map(repr, row)) for row in connection.execute(sa.select(*columns))
                )
                print(f"{name:28s} {len(rows):7d} {digest(repr(rows))}")
        engine.dispose()
        for path in sorted(backtest.run_dir.glob("*.parquet")):
            parquet = pl.read_parquet(path)
            print(f"{path.name:28s} {parquet.height:7d} {digest(parquet.write_csv())}")


if __name__ == "__main__":
    main()
