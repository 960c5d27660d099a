"""Parsed files kept per source instance, reparsed only when the file on disk changes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

from quantgate.core.errors import DataError

Parsed = TypeVar("Parsed")
_MAX_WORKERS = 8


def _signature(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError as error:
        raise DataError(f"cannot read the file ({error.strerror})", source=str(path)) from None
    return stat.st_size, stat.st_mtime_ns


class ParsedFiles(Generic[Parsed]):
    """A file's parse is reused while its size and modification time stay the same."""

    def __init__(self, parse: Callable[[Path], Parsed]) -> None:
        self._parse = parse
        self._entries: dict[Path, tuple[tuple[int, int], Parsed]] = {}

    def get(self, path: Path) -> Parsed:
        return self.get_all([path])[0]

    def get_all(self, paths: Sequence[Path]) -> list[Parsed]:
        """Parse what is not cached, several files at once, and return them in `paths` order.

        Threads pay off because decompression and Polars both release the GIL.
        If files fail, the error of the first failing one in `paths` order is
        raised, so the report does not depend on thread timing.
        """
        signatures = {path: _signature(path) for path in paths}
        stale = [
            path
            for path in dict.fromkeys(paths)
            if (entry := self._entries.get(path)) is None or entry[0] != signatures[path]
        ]
        if len(stale) > 1:
            workers = min(len(stale), os.cpu_count() or 1, _MAX_WORKERS)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parsed = list(pool.map(self._parse, stale))
        else:
            parsed = [self._parse(path) for path in stale]
        for path, result in zip(stale, parsed, strict=True):
            self._entries[path] = (signatures[path], result)
        return [self._entries[path][1] for path in paths]

    def clear(self) -> None:
        self._entries.clear()
