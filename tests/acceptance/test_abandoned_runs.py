"""A command killed with SIGKILL cannot record its outcome; the next command on the host
marks its `command_runs` row abandoned, and leaves the rows of live processes alone."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantgate.cli.context import CliContext
from quantgate.storage.models import CommandRun

# A real command context in a real process that then waits (or is killed) mid-command.
HOLD = """
import sys, time
from quantgate.cli.context import CliContext
with CliContext(run_id=sys.argv[1]).recorded("data generate"):
    print("recorded", flush=True)
    time.sleep(600)
"""


def start_command(run_id: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, run_id], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "recorded"
    return process


def statuses(context: CliContext) -> dict[str, str]:
    with Session(context.migrated_engine()) as session:
        return {row.run_id: row.status for row in session.scalars(select(CommandRun))}


def test_a_killed_commands_row_is_marked_abandoned_by_the_next_command(qg_home: Path) -> None:
    killed, alive = start_command("killed-run"), start_command("alive-run")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        observer = CliContext(run_id="next-run")
        assert statuses(observer) == {"killed-run": "running", "alive-run": "running"}

        with observer.recorded("gate profitability"):
            pass

        assert statuses(observer) == {
            "killed-run": "abandoned",
            "alive-run": "running",
            "next-run": "succeeded",
        }
        with Session(observer.engine) as session:
            row = session.get(CommandRun, "killed-run")
            assert row is not None
            note = row.detail["abandoned"]
            assert note["found_by"] == "next-run"
            assert f"process {killed.pid} ended" in note["reason"]
            assert row.detail["process"]["pid"] == killed.pid
    finally:
        alive.kill()
        alive.wait(timeout=30)

    with CliContext(run_id="later-run").recorded("demo"):
        pass
    assert statuses(CliContext(run_id="reader"))["alive-run"] == "abandoned"
