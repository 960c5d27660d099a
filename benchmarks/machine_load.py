"""Whether other processes used the CPU while a benchmark ran.

Figures taken while something else runs (an install, a test suite) are not comparable
with another run's: a backtest read 67k bars/s beside a `pip install` and 107k alone.
The benchmark says so next to its figures instead of leaving it to be remembered.
Linux only (/proc/stat); elsewhere the watch reports nothing.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

_PROC_STAT = Path("/proc/stat")
# More than this share of one core used by others over the run: say the figures are off.
BUSY_SHARE = 0.25


def _machine_busy_seconds() -> float | None:
    """CPU seconds every core spent busy since boot (user, nice, system, irq, softirq,
    steal), or None without /proc/stat."""
    try:
        fields = _PROC_STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuWatch:
    """Started before the timed runs; `verdict()` after them."""

    def __init__(self) -> None:
        self._busy = _machine_busy_seconds()
        self._own = _own_seconds()
        self._wall = time.perf_counter()

    def others_share(self) -> float | None:
        """Cores' worth of CPU other processes used since the start (0.5: half a core)."""
        busy = _machine_busy_seconds()
        if busy is None or self._busy is None:
            return None
        wall = time.perf_counter() - self._wall
        others = (busy - self._busy) - (_own_seconds() - self._own)
        return max(others, 0.0) / wall if wall > 0 else None

    def verdict(self) -> str:
        share = self.others_share()
        if share is None:
            return "machine load: unknown (no /proc/stat)"
        text = f"machine load: other processes used {share:.2f} of a core while this ran"
        if share > BUSY_SHARE:
            text += (
                f" (over {BUSY_SHARE}): the figures are not comparable with an idle run's;"
                " run again on a quiet machine"
            )
        return text
