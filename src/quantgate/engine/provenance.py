"""Where a run came from: the git commit of the code that produced it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import quantgate

UNKNOWN = "unknown"


def _git(args: list[str], where: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(where), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _candidates() -> list[Path]:
    # The code's own checkout first (what actually ran), then the working directory.
    return [Path(quantgate.__file__).resolve().parent, Path.cwd()]


def git_sha() -> str:
    """`git rev-parse HEAD` of the code's checkout (or of the working directory), or
    "unknown" outside a repository."""
    for where in _candidates():
        sha = _git(["rev-parse", "HEAD"], where)
        if sha:
            return sha
    return UNKNOWN


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (None outside a repository)."""
    for where in _candidates():
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        if status is not None:
            return bool(status)
    return None
