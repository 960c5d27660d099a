"""Command runs whose process died without recording an outcome (SIGKILL, power loss).

Such a row would say "running" for ever; nothing inside the killed process can prevent
that. So each run records its process (host and pid), and the next command started on
the same host marks the rows whose process is gone as "abandoned", saying who found
them and when. A pid the system has since reused looks alive and is left as it is:
a row is only ever marked when its process certainly ended.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantgate.storage.models import CommandRun

ABANDONED = "abandoned"


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def mark_abandoned_runs(session: Session, *, found_by: str) -> list[str]:
    """Mark this host's "running" rows whose process no longer exists; returns their run ids."""
    host, now = socket.gethostname(), datetime.now(UTC)
    marked = []
    for row in session.scalars(select(CommandRun).where(CommandRun.status == "running")):
        process = (row.detail or {}).get("process") or {}
        pid = process.get("pid")
        if process.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        row.status = ABANDONED
        row.detail = {
            **row.detail,
            "abandoned": {
                "found_by": found_by,
                "found_at": now.isoformat(),
                "reason": f"process {pid} ended without recording an outcome (killed?)",
            },
        }
        marked.append(row.run_id)
    return marked


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True
