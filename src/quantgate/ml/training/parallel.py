"""Executors for the (symbol × horizon × fold × trial) fan-out: a local process pool or Ray.

`run_tasks(fn, tasks, shared, executor=...)` calls ``fn(task, shared)`` for every
task and returns the results in task order, whatever order they finish in.

- ``local`` (default): a process pool (``spawn`` start method, so LightGBM and
  torch threads are never forked) of ``workers`` processes; ``shared`` (a dict
  of NumPy arrays and plain values) is written once to ``.npy`` files in a
  temporary folder and memory-mapped by each worker, instead of being pickled
  per task. With one worker the tasks run inline (no pool to start).
- ``ray``: one Ray task per item; ``shared`` is put in the object store once.
  ``ray_address`` (or ``RAY_ADDRESS``) joins an existing cluster; without one
  Ray starts a local cluster. A Ray session this function started is shut down
  again; one already running (``ray.is_initialized()``) is reused and kept.

Results depend only on (task, shared): each task carries its own seed and
thread count, so both executors return identical results for the same seed.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from quantgate.core.errors import ConfigurationError

T = TypeVar("T")
R = TypeVar("R")
Executor = Literal["local", "ray"]

_SCALARS = "scalars.pkl"
_LOADED: dict[str, dict[str, Any]] = {}


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _save_shared(shared: dict[str, Any], folder: Path) -> None:
    scalars = {}
    for name, value in shared.items():
        if isinstance(value, np.ndarray) and value.dtype != object:
            np.save(folder / f"{name}.npy", value, allow_pickle=False)
        else:
            scalars[name] = value
    (folder / _SCALARS).write_bytes(pickle.dumps(scalars))


def _load_shared(folder: str) -> dict[str, Any]:
    cached = _LOADED.get(folder)
    if cached is None:
        path = Path(folder)
        cached = pickle.loads((path / _SCALARS).read_bytes())
        for file in path.glob("*.npy"):
            cached[file.stem] = np.load(file, mmap_mode="r", allow_pickle=False)
        _LOADED.clear()  # one shared payload per worker at a time
        _LOADED[folder] = cached
    return cached


def _call_local(fn: Callable[[Any, dict[str, Any]], Any], task: Any, folder: str) -> Any:
    return fn(task, _load_shared(folder))


def run_tasks(
    fn: Callable[[T, dict[str, Any]], R],
    tasks: Sequence[T],
    shared: dict[str, Any],
    *,
    executor: Executor = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``[fn(task, shared) for task in tasks]``, fanned out on the chosen executor."""
    if not tasks:
        return []
    if executor == "ray":
        return _run_ray(fn, tasks, shared, ray_address, on_done)
    if executor != "local":
        raise ConfigurationError(f"unknown executor {executor!r}", fix="use 'local' or 'ray'")
    count = min(workers or default_workers(), len(tasks))
    if count <= 1:
        results = []
        for done, task in enumerate(tasks, 1):
            results.append(fn(task, shared))
            if on_done:
                on_done(done, len(tasks))
        return results
    with tempfile.TemporaryDirectory(prefix="qg-shared-") as folder:
        _save_shared(shared, Path(folder))
        with ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_call_local, fn, task, folder) for task in tasks]
            results = []
            for done, future in enumerate(futures, 1):
                results.append(future.result())
                if on_done:
                    on_done(done, len(tasks))
            return results


def _run_ray(
    fn: Callable[[T, dict[str, Any]], R],
    tasks: Sequence[T],
    shared: dict[str, Any],
    address: str | None,
    on_done: Callable[[int, int], None] | None,
) -> list[R]:
    import ray

    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(_call_ray)
        shared_ref = ray.put(shared)
        refs = [remote.remote(fn, task, shared_ref) for task in tasks]
        results = []
        for done, ref in enumerate(refs, 1):
            results.append(ray.get(ref))
            if on_done:
                on_done(done, len(tasks))
        return results
    finally:
        if started:
            ray.shutdown()


def _call_ray(fn: Callable[[Any, dict[str, Any]], Any], task: Any, shared: dict[str, Any]) -> Any:
    return fn(task, shared)
