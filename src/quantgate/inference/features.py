"""Feature rows for serving: the recent tail of the feature store, held in memory per symbol.

A prediction request needs one row (the newest with `asof <= t`); reading Parquet
per request would cost milliseconds, so the last `cache_days` of every served
symbol are held as one float32 matrix in contract order. `refresh()` re-reads a
symbol only when one of its partition files changed (size or mtime), so a
`features build` that appends rows reaches a running server within one refresh.
Older decision times fall through to a lake read.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantgate.features.contract import CONTRACT, FeatureContract
from quantgate.features.store import PROVENANCE, read_feature_matrix
from quantgate.features.units import FEATURE_DATASETS
from quantgate.storage.lake import Lake

Float32Matrix = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True, slots=True)
class FeatureRow:
    symbol: str
    asof: datetime
    max_input_available_at: datetime
    values: Float32Matrix  # shape (width,), contract order


@dataclass(frozen=True, slots=True)
class _SymbolTail:
    asof: list[datetime]
    available_at: list[datetime]
    values: Float32Matrix  # (rows, width)
    stamp: tuple[tuple[str, int, int], ...]

    def row_at(self, symbol: str, asof: datetime | None) -> FeatureRow | None:
        if not self.asof:
            return None
        if asof is None:
            index = len(self.asof) - 1
        else:
            index = _last_at_or_before(self.asof, asof)
            if index < 0:
                return None
        return FeatureRow(symbol, self.asof[index], self.available_at[index], self.values[index])


def _last_at_or_before(times: list[datetime], t: datetime) -> int:
    low, high = 0, len(times)
    while low < high:
        middle = (low + high) // 2
        if times[middle] <= t:
            low = middle + 1
        else:
            high = middle
    return low - 1


class FeatureRowCache:
    def __init__(
        self,
        lake: Lake,
        symbols: Sequence[str],
        *,
        cache_days: float = 14.0,
        contract: FeatureContract = CONTRACT,
    ) -> None:
        self.lake = lake
        self.symbols = tuple(symbols)
        self.cache_window = timedelta(days=cache_days)
        self.contract = contract
        self._tails: dict[str, _SymbolTail] = {}
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()  # the poller and an API write may both refresh

    def refresh(self) -> list[str]:
        """Re-read the symbols whose partitions changed; return them."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> list[str]:
        changed = []
        for symbol in self.symbols:
            stamp = self._stamp(symbol)
            held = self._tails.get(symbol)
            if held is not None and held.stamp == stamp:
                continue
            tail = self._read_tail(symbol, stamp)
            with self._lock:
                self._tails[symbol] = tail
            changed.append(symbol)
        return changed

    def row(self, symbol: str, asof: datetime | None = None) -> FeatureRow | None:
        """The newest row of `symbol` with asof <= `asof` (the newest of all when None)."""
        with self._lock:
            tail = self._tails.get(symbol)
        if tail is not None and (asof is None or (tail.asof and asof >= tail.asof[0])):
            return tail.row_at(symbol, asof)
        return self._read_row(symbol, asof)

    def newest_asof(self, symbol: str) -> datetime | None:
        with self._lock:
            tail = self._tails.get(symbol)
        return tail.asof[-1] if tail is not None and tail.asof else None

    # ---------------------------------------------------------------- lake reads

    def _stamp(self, symbol: str) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for dataset in FEATURE_DATASETS:
            for ref in self.lake.partitions(dataset, [symbol]):
                try:
                    status = ref.path.stat()
                except FileNotFoundError:
                    continue
                entries.append((str(ref.path), status.st_size, status.st_mtime_ns))
        return tuple(sorted(entries))

    def _read_tail(self, symbol: str, stamp: tuple[tuple[str, int, int], ...]) -> _SymbolTail:
        newest = self._newest_asof_in_lake(symbol)
        if newest is None:
            return _SymbolTail([], [], np.zeros((0, self.contract.width), np.float32), stamp)
        frame = self._matrix(symbol, newest - self.cache_window, None)
        return _SymbolTail(
            frame["asof"].to_list(),
            frame[PROVENANCE].to_list(),
            self._values(frame),
            stamp,
        )

    def _read_row(self, symbol: str, asof: datetime | None) -> FeatureRow | None:
        found = self._newest_asof_in_lake(symbol, at_or_before=asof)
        if found is None:
            return None
        frame = self._matrix(symbol, found, found + timedelta(microseconds=1))
        return FeatureRow(
            symbol, frame["asof"].item(), frame[PROVENANCE].item(), self._values(frame)[0]
        )

    def _newest_asof_in_lake(
        self, symbol: str, *, at_or_before: datetime | None = None
    ) -> datetime | None:
        end = None if at_or_before is None else at_or_before + timedelta(microseconds=1)
        lazy = self.lake.scan(FEATURE_DATASETS[0], [symbol], end=end, time_column="asof")
        if lazy is None:
            return None
        value = lazy.select(pl.col("asof").max()).collect().item()
        return value if isinstance(value, datetime) else None

    def _matrix(self, symbol: str, start: datetime | None, end: datetime | None) -> pl.DataFrame:
        return read_feature_matrix(self.lake, [symbol], start, end, contract=self.contract)

    def _values(self, frame: pl.DataFrame) -> Float32Matrix:
        return (
            frame.select(pl.col(c).cast(pl.Float32) for c in self.contract.names)
            .to_numpy()
            .astype(np.float32, copy=False)
        )
