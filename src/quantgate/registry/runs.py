"""Read evaluation records from `training_runs` (written by ml/ training) without its model class:
the table is reflected, so the registry depends only on the columns it reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, select

from quantgate.registry.errors import RegistryUsageError

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
