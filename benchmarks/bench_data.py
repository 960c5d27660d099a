"""Benchmark: generate and ingest 8 symbols x 2018-now hourly bars, then audit them.

Targets (issue 3): audit of ~620k bars in < 3 s; Parquet ingest >= 500k rows/s.
Baselines run in the same process: a bare `write_parquet` of the same rows (no
validation, no upsert) and a plain Polars scan of the lake, so the ratios say
what our checks and bookkeeping cost. Prints figures; asserts nothing on time.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from machine_load import CpuWatch

from quantgate.adapters.sim import SyntheticMarketConfig, SyntheticMarketSource
from quantgate.data.audit import AuditRequest, run_audit
from quantgate.data.catalog import BARS_FAMILY, Catalog, Coverage
from quantgate.data.ingest import ingest_bars
from quantgate.storage import Lake, create_db_engine, upgrade


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, action):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - began
    print(f"{label:<42} {elapsed:8.3f} s   peak RSS {peak_rss_mib():8.0f} MiB")
    return value, elapsed


def main() -> None:
    watch = CpuWatch()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    config = SyntheticMarketConfig(end=end)
    source = SyntheticMarketSource(config)
    symbols = source.symbols()
    frames, generate_s = timed(
        "generate 8 symbols 2018-now (hourly)",
        lambda: pl.concat([source.fetch_bars(s, config.start, end) for s in symbols]),
    )
    rows = frames.height
    print(f"rows: {rows:,}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        baseline_dir = root / "baseline"
        baseline_dir.mkdir()
        _, baseline_s = timed(
            "baseline: bare write_parquet",
            lambda: frames.write_parquet(baseline_dir / "all.parquet", compression="zstd"),
        )
        lake = Lake(root / "lake")
        _, ingest_s = timed(
            "ingest (conform + upsert, atomic partitions)",
            lambda: ingest_bars(lake, frames, origin="benchmark"),
        )
        _, reingest_s = timed(
            "re-ingest same rows (all unchanged)",
            lambda: ingest_bars(lake, frames, origin="benchmark"),
        )
        engine = create_db_engine(f"sqlite:///{root / 'qg.db'}")
        upgrade(engine)
        catalog = Catalog(engine)
        catalog.set_coverage(
            Coverage(source.name, BARS_FAMILY, s, source.coverage(s).start, source.coverage(s).end)
            for s in symbols
        )
        request = AuditRequest(datetime(2018, 1, 1, tzinfo=UTC), end, tuple(symbols))
        _, scan_s = timed(
            "baseline: scan ts of every bar",
            lambda: pl.scan_parquet(root / "lake" / "bars_1h").select("ts").collect(),
        )
        report, audit_s = timed("audit (bars + social)", lambda: run_audit(lake, catalog, request))
    print()
    print(f"ingest rate            {rows / ingest_s:12,.0f} rows/s   (target >= 500,000)")
    print(f"ingest / bare write    {ingest_s / baseline_s:12.2f} x")
    print(f"re-ingest rate         {rows / reingest_s:12,.0f} rows/s")
    print(f"audit time             {audit_s:12.3f} s        (target < 3 s for ~620k bars)")
    print(f"audit / bare scan      {audit_s / scan_s:12.2f} x")
    print(f"audited bars           {report['summary']['present_bars']:12,}")
    print(f"generation rate        {rows / generate_s:12,.0f} bars/s")
    print(f"peak RSS               {peak_rss_mib():12.0f} MiB")
    print(watch.verdict())
    sys.exit(0)


if __name__ == "__main__":
    main()
