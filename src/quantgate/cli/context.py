"""What every command needs: settings, the database engine and the lake, built once per run."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine

from quantgate.cli.abandoned_runs import mark_abandoned_runs, this_process
from quantgate.config import Settings, load_settings
from quantgate.storage import Lake, create_db_engine, upgrade
from quantgate.storage.models import CommandRun

# Progress bars and human messages go to stderr so stdout stays clean JSON for scripts.
console = Console(stderr=True)


@dataclass
class CliContext:
    config_file: Path | None = None
    run_id: str = ""
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(self.settings.resolved_database_url)

    def migrated_engine(self) -> Engine:
        """The engine with every migration applied; commands that write state call this."""
        upgrade(self.engine)
        return self.engine

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_root)

    @contextmanager
    def recorded(self, command: str) -> Iterator[dict[str, Any]]:
        """Record this command in `command_runs`; the yielded dict becomes its detail."""
        from sqlalchemy.orm import Session

        engine = self.migrated_engine()
        detail: dict[str, Any] = {}
        process = this_process()
        row = CommandRun(
            run_id=self.run_id,
            command=command,
            started_at=datetime.now(UTC),
            status="running",
            detail={"process": process},
        )
        with Session(engine) as session, session.begin():
            mark_abandoned_runs(session, found_by=self.run_id)
            session.merge(row)
        status = "failed"
        try:
            yield detail
            status = "succeeded"
        finally:
            with Session(engine) as session, session.begin():
                stored = session.get(CommandRun, self.run_id)
                if stored is not None:
                    stored.status = status
                    stored.finished_at = datetime.now(UTC)
                    stored.detail = json.loads(
                        json.dumps({**detail, "process": process}, default=str)
                    )


def get_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def emit_json(payload: Any) -> None:
    """Print `payload` as JSON on stdout (the contract scripts read)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a long command as Ctrl-C does, so that it can record where it stopped."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
