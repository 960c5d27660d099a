"""Benchmark: walk-forward train + eval, LightGBM, 8 symbols × 4 horizons, 2018-now hourly.

Builds the synthetic market and its features (hashing embedder) in a temporary
home unless QG_BENCH_HOME points at an existing one, then runs `run_eval` with
the pipeline defaults. Prints wall time and peak memory; asserts nothing on time.
Usage: .venv/bin/python benchmarks/bench_training.py [--start 2018-01-01] [--folds 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from quantgate.adapters.sim import SyntheticMarketConfig
from quantgate.data.generate import generate_synthetic
from quantgate.features import FeatureBuilder, FeaturesConfig
from quantgate.ml.training.config import TrainingConfig
from quantgate.ml.training.pipeline import MLEnvironment, run_eval
from quantgate.storage import create_db_engine
from quantgate.storage.lake import Lake
from quantgate.storage.models import Base

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2018-01-01")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--max-train-rows", type=int, default=40_000)
    args = parser.parse_args()
    root = Path(os.environ.get("QG_BENCH_HOME") or tempfile.mkdtemp(prefix="qg-bench-ml-"))
    engine = create_db_engine(f"sqlite:///{root}/db.sqlite")
    Base.metadata.create_all(engine)
    lake = Lake(root / "lake")
    features = FeaturesConfig(embedder="hashing")
    t0 = time.perf_counter()
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    generate_synthetic(lake, engine, SyntheticMarketConfig(seed=7, symbols=SYMBOLS, start=start))
    FeatureBuilder(lake, root / "features", features).build(None)
    t1 = time.perf_counter()
    env = MLEnvironment(lake=lake, engine=engine, home=root, features=features)
    config = TrainingConfig(n_folds=args.folds, max_train_rows=args.max_train_rows)
    payload, _, _ = run_eval(env, config)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"data+features: {t1 - t0:.1f} s; walk-forward train+eval: {t2 - t1:.1f} s "
        f"({payload['n_rows']:,} rows, {len(config.horizons)} horizons × {args.folds} folds)"
    )
    print(f"peak RSS (driver): {peak_mb:.0f} MB")
    for h, v in payload["per_horizon"].items():
        print(
            f"  {h}: IC {v['ic_mean']} CI [{v['ic_ci']['low']}, {v['ic_ci']['high']}], "
            f"rank IC {v['rank_ic_mean']}, oracle {v['oracle_ic']}, ratio {v['ic_to_oracle']}"
        )


if __name__ == "__main__":
    main()
