"""Read evaluation records from `training_runs` (written by ml/ training) without its model class:
the table is reflected, so the registry depends only on the columns it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, select

from quantgate.core.errors import QuantgateError
from quantgate.registry.errors import RegistryUsageError
from quantgate.registry.evaluation import evaluation_pairs, find_evaluation
from quantgate.registry.service import Registry, horizon_value, read_artifact_metadata

TABLE = "training_runs"


def training_run(engine: Engine, run: str = "latest") -> dict[str, Any]:
    """The run `run` (its run_id), or with "latest" the newest run that has an artifact."""
    if not inspect(engine).has_table(TABLE):
        raise RegistryUsageError(
            f"no {TABLE} table in this database", fix="train a model first (quantgate ml train)"
        )
    table = Table(TABLE, MetaData(), autoload_with=engine)
    columns = table.c
    query = select(table).where(columns.artifact_path.is_not(None))
    if run != "latest":
        query = query.where(columns.run_id == run)
    order = [columns[name].desc() for name in ("created_at", "id") if name in columns]
    with engine.connect() as connection:
        row = connection.execute(query.order_by(*order).limit(1)).mappings().first()
    if row is None:
        which = "no training run with an artifact" if run == "latest" else f"no run {run!r}"
        raise RegistryUsageError(
            f"{which} in {TABLE}", fix="train a model first, or pass --artifact PATH"
        )
    record = dict(row)
    if not isinstance(record.get("metrics"), dict):
        record["metrics"] = {}
    return record


def register_from_run(
    registry: Registry,
    engine: Engine,
    run: str,
    symbol: str | None = None,
    horizon: str | None = None,
    *,
    actor: str,
    reason: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Register every (symbol, horizon) a training run evaluated as a candidate.

    Returns one entry per pair — the transition, or {"symbol", "horizon", "error"}
    for a pair that could not be registered — and the run's id and artifact path.
    """
    record = training_run(engine, run)
    artifact = Path(str(record["artifact_path"]))
    metadata = read_artifact_metadata(artifact)
    horizons = {h.value for h in metadata.horizons}
    pairs = [
        (s, h)
        for s, h in evaluation_pairs(record["metrics"])
        if h in horizons
        and (symbol is None or s == symbol)
        and (horizon is None or h == horizon_value(horizon))
    ]
    if not pairs:
        raise RegistryUsageError(
            f"training run {record.get('run_id')} holds no per (symbol, horizon) evaluation "
            "for the artifact's horizons",
            fix="pass --artifact PATH --symbol S --horizon H with an --evaluation JSON file",
        )
    results = []
    for s, h in pairs:
        try:
            transition = registry.register_candidate(
                artifact,
                s,
                h,
                actor=actor,
                reason=reason,
                evaluation=find_evaluation(record["metrics"], s, h),
                source_run_id=str(record.get("run_id")),
            )
        except QuantgateError as error:
            results.append({"symbol": s, "horizon": h, "error": str(error)})
            continue
        results.append(transition.to_dict())
    return results, {"run_id": record.get("run_id"), "artifact_path": str(artifact)}
