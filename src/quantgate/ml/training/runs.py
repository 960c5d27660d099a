"""Recording runs in `training_runs` and re-checking them (`ml validate-leakage`).

A run's ``windows`` JSON holds, per (horizon, fold), the fold summary and the
distinct decision times of its training and test rows, run-length encoded as
``[first_us, last_us]`` stretches of consecutive hours. All rows of one decision
time share one label window per horizon, so the label overlap between training
and test rows is zero exactly when it is zero on these times;
`label_overlap_count` recomputes it from them with the horizon's windows.

A run violates when any (horizon, fold) overlap count is > 0, or when its
``contract_hash`` differs from ``evaluated_contract_hash``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantgate.core.enums import Horizon
from quantgate.ml.splits import Fold, label_overlap_count
from quantgate.storage.models import TrainingRun

IntArray = NDArray[np.int64]
HOUR_US = 3_600_000_000


def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def encode_times(times: IntArray) -> list[list[int]]:
    """Distinct times as [first, last] runs of consecutive hours."""
    distinct = np.unique(times)
    if not len(distinct):
        return []
    breaks = np.flatnonzero(np.diff(distinct) != HOUR_US)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(distinct) - 1]))
    return [[int(distinct[s]), int(distinct[e])] for s, e in zip(starts, ends, strict=True)]


def decode_times(runs: Sequence[Sequence[int]]) -> IntArray:
    if not runs:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(a, b + 1, HOUR_US, dtype=np.int64) for a, b in runs])


def fold_windows(
    horizon: Horizon, fold: Fold, times: IntArray, *, train_idx: IntArray | None = None
) -> dict[str, Any]:
    train = fold.train_idx if train_idx is None else train_idx
    return {
        "horizon": horizon.value,
        "horizon_hours": horizon.hours,
        **fold.to_dict(),
        "train_times": encode_times(times[train]),
        "test_times": encode_times(times[fold.test_idx]),
    }


def overlap_of(entry: dict[str, Any]) -> int:
    train = decode_times(entry.get("train_times") or [])
    test = decode_times(entry.get("test_times") or [])
    if not len(train) or not len(test):
        return 0
    times = np.concatenate([train, test])
    ends = times + int(entry["horizon_hours"]) * HOUR_US
    return label_overlap_count(
        np.arange(len(train)), np.arange(len(train), len(times)), times, ends
    )


def record_run(
    engine: Engine,
    *,
    run_id: str,
    kind: str,
    estimator: str,
    symbols: Sequence[str],
    horizons: Sequence[Horizon],
    windows: list[dict[str, Any]],
    contract_hash: str,
    evaluated_contract_hash: str,
    data_manifest_hash: str,
    config_hash: str,
    seed: int,
    n_trials: int,
    metrics: dict[str, Any],
    artifact_path: str | None = None,
    sha: str | None = None,
) -> int:
    row = TrainingRun(
        run_id=run_id,
        created_at=datetime.now(UTC),
        kind=kind,
        estimator=estimator,
        symbols={"symbols": list(symbols)},
        horizons={"horizons": [Horizon(h).value for h in horizons]},
        windows={"folds": windows},
        contract_hash=contract_hash,
        evaluated_contract_hash=evaluated_contract_hash,
        data_manifest_hash=data_manifest_hash,
        git_sha=sha or git_sha(),
        config_hash=config_hash,
        seed=seed,
        n_trials=n_trials,
        metrics=metrics,
        artifact_path=artifact_path,
    )
    with Session(engine) as session, session.begin():
        session.add(row)
        session.flush()
        return int(row.id)


def validate_leakage(engine: Engine) -> dict[str, Any]:
    """Re-check every recorded run; ``violating_runs`` counts the runs that fail."""
    checked: list[dict[str, Any]] = []
    with Session(engine) as session:
        rows = session.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
        for row in rows:
            folds = (row.windows or {}).get("folds", [])
            overlaps = [
                {"horizon": f["horizon"], "fold": f.get("index"), "overlap_count": overlap_of(f)}
                for f in folds
            ]
            total = sum(o["overlap_count"] for o in overlaps)
            contract_ok = row.contract_hash == row.evaluated_contract_hash
            reasons = []
            if total:
                reasons.append(f"{total} overlapping (train, test) label windows")
            if not contract_ok:
                reasons.append("feature contract differs from the one it was evaluated with")
            checked.append(
                {
                    "id": row.id,
                    "run_id": row.run_id,
                    "kind": row.kind,
                    "overlap_count": total,
                    "contract_matches": contract_ok,
                    "violates": bool(reasons),
                    "reasons": reasons,
                    "folds_checked": len(folds),
                }
            )
    violating = [c for c in checked if c["violates"]]
    return {
        "runs_checked": len(checked),
        "violating_runs": len(violating),
        "violations": violating,
        "runs": checked,
        "passed": not violating,
    }
