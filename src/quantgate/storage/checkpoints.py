"""Job checkpoints in the database, so a long job rerun resumes where the last one stopped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from quantgate.storage.models import JobCheckpoint


class Checkpoints:
    def __init__(self, engine: Engine, job: str) -> None:
        self.engine = engine
        self.job = job

    def get(self, key: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.scalar(
                select(JobCheckpoint).where(JobCheckpoint.job == self.job, JobCheckpoint.key == key)
            )
            return dict(row.state) if row is not None else None

    def put(self, key: str, state: dict[str, Any], note: str | None = None) -> None:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(JobCheckpoint).where(JobCheckpoint.job == self.job, JobCheckpoint.key == key)
            )
            if row is None:
                session.add(
                    JobCheckpoint(job=self.job, key=key, state=state, note=note, updated_at=now)
                )
            else:
                row.state, row.note, row.updated_at = state, note, now

    def done(self) -> set[str]:
        with Session(self.engine) as session:
            rows = session.scalars(select(JobCheckpoint).where(JobCheckpoint.job == self.job))
            return {row.key for row in rows if row.state.get("done")}

    def clear(self) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(JobCheckpoint).where(JobCheckpoint.job == self.job))
