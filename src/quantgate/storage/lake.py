"""The lake: Parquet partitions by dataset / symbol / year, read and written with Polars.

Every partition write is atomic: the data goes to a temporary file in the same
folder, is fsynced, then renamed over the old partition, and the folder is
fsynced. A crash at any point leaves either the old or the new partition whole.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from quantgate.core.errors import DataError, ProgrammerError

PARTITION_FILE = "data.parquet"
_TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class PartitionRef:
    dataset: str
    symbol: str
    year: int
    path: Path


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int
    partitions_written: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def fsync_directory(path: Path) -> None:
    """Make a rename or a new file in `path` durable (the folder's entry, not the file)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_parquet(frame: pl.DataFrame, target: Path) -> None:
    """Write `frame` to `target` so readers only ever see a whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f"{_TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}"
    try:
        frame.write_parquet(temporary, compression="zstd", statistics=True)
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def _safe_component(value: str, what: str) -> str:
    if not value or "/" in value or value.startswith(".") or "=" in value:
        raise ProgrammerError(f"invalid lake {what} {value!r}")
    return value


class Lake:
    """Parquet partitions under `root/<dataset>/symbol=<S>/year=<Y>/data.parquet`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def partition_path(self, dataset: str, symbol: str, year: int) -> Path:
        return (
            self.root
            / _safe_component(dataset, "dataset")
            / f"symbol={_safe_component(symbol, 'symbol')}"
            / f"year={int(year):04d}"
            / PARTITION_FILE
        )

    def partitions(self, dataset: str, symbols: Iterable[str] | None = None) -> list[PartitionRef]:
        base = self.root / dataset
        if not base.is_dir():
            return []
        wanted = set(symbols) if symbols is not None else None
        found = []
        for path in sorted(base.glob(f"symbol=*/year=*/{PARTITION_FILE}")):
            symbol = path.parent.parent.name.removeprefix("symbol=")
            if wanted is not None and symbol not in wanted:
                continue
            year = int(path.parent.name.removeprefix("year="))
            found.append(PartitionRef(dataset, symbol, year, path))
        return found

    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def symbols(self, dataset: str) -> list[str]:
        return sorted({ref.symbol for ref in self.partitions(dataset)})

    def write_partition(self, dataset: str, symbol: str, year: int, frame: pl.DataFrame) -> Path:
        target = self.partition_path(dataset, symbol, year)
        atomic_write_parquet(frame, target)
        return target

    def read_partition(self, dataset: str, symbol: str, year: int) -> pl.DataFrame | None:
        path = self.partition_path(dataset, symbol, year)
        return pl.read_parquet(path) if path.is_file() else None

    def scan(
        self,
        dataset: str,
        symbols: Iterable[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        time_column: str = "ts",
    ) -> pl.LazyFrame | None:
        """Lazy view over the partitions; `start` inclusive, `end` exclusive on `time_column`."""
        refs = self.partitions(dataset, symbols)
        if start is not None:
            refs = [r for r in refs if r.year >= start.year]
        if end is not None:
            refs = [r for r in refs if r.year <= end.year]
        if not refs:
            return None
        lazy = pl.scan_parquet([r.path for r in refs])
        if start is not None:
            lazy = lazy.filter(pl.col(time_column) >= start)
        if end is not None:
            lazy = lazy.filter(pl.col(time_column) < end)
        return lazy

    def read(
        self,
        dataset: str,
        symbols: Iterable[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        time_column: str = "ts",
    ) -> pl.DataFrame:
        lazy = self.scan(dataset, symbols, start, end, time_column)
        return lazy.collect() if lazy is not None else pl.DataFrame()

    def upsert(
        self,
        dataset: str,
        frame: pl.DataFrame,
        key: Sequence[str],
        *,
        time_column: str = "ts",
        symbol_column: str = "symbol",
        ignore_in_comparison: Sequence[str] = (),
    ) -> UpsertResult:
        """Insert or replace rows by `key`.

        A row equal to the stored one (ignoring `ignore_in_comparison`, e.g. the
        fetch time) counts as unchanged and the stored row is kept. Every partition
        is merged and checked before the first one is written, so a bad partition
        stops the whole upsert with nothing written.
        """
        missing = [c for c in (*key, time_column, symbol_column) if c not in frame.columns]
        if missing:
            raise ProgrammerError(f"upsert into {dataset}: frame lacks columns {missing}")
        if frame.is_empty():
            return UpsertResult(0, 0, 0, 0)
        duplicated = frame.select(key).is_duplicated()
        if duplicated.any():
            first = frame.filter(duplicated).row(0, named=True)
            raise DataError(
                f"upsert into {dataset}: the incoming rows repeat key {first}",
                field=",".join(key),
                fix="remove the duplicate rows from the input",
            )
        inserted = updated = unchanged = 0
        planned: list[tuple[str, int, pl.DataFrame]] = []
        with_year = frame.with_columns(pl.col(time_column).dt.year().alias("__year"))
        groups = with_year.group_by([symbol_column, "__year"], maintain_order=True)
        for (symbol, year), part in groups:
            incoming = part.drop("__year")
            existing = self.read_partition(dataset, str(symbol), int(year))
            if existing is None:
                merged = incoming
                inserted += incoming.height
            else:
                if set(existing.columns) != set(incoming.columns):
                    raise DataError(
                        f"upsert into {dataset}/{symbol}/{year}: columns {sorted(incoming.columns)}"
                        f" differ from stored {sorted(existing.columns)}",
                        fix="bring the input to the dataset's schema",
                    )
                incoming = incoming.select(existing.columns).cast(existing.schema)
                compared = [c for c in existing.columns if c not in ignore_in_comparison]
                matched = incoming.join(existing, on=list(key), how="semi")
                same = incoming.join(existing, on=compared, how="semi", nulls_equal=True)
                unchanged += same.height
                updated += matched.height - same.height
                inserted += incoming.height - matched.height
                if matched.height == same.height and incoming.height == matched.height:
                    continue
                changed = incoming.join(same, on=list(key), how="anti")
                kept = existing.join(changed, on=list(key), how="anti")
                merged = pl.concat([kept, changed], how="vertical")
            merged = merged.sort([*key] if time_column in key else [time_column, *key])
            planned.append((str(symbol), int(year), merged))
        for symbol, year, merged in planned:
            self.write_partition(dataset, symbol, year, merged)
        return UpsertResult(inserted, updated, unchanged, len(planned))

    def delete_dataset(self, dataset: str) -> None:
        for ref in self.partitions(dataset):
            ref.path.unlink()

    def manifest(self, dataset: str, symbols: Iterable[str] | None = None) -> dict[str, str]:
        """sha256 of every partition file, keyed by its path relative to the lake root."""
        return {
            str(ref.path.relative_to(self.root)): file_sha256(ref.path)
            for ref in self.partitions(dataset, symbols)
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_hash(manifest: dict[str, str]) -> str:
    joined = "\n".join(f"{name}={digest}" for name, digest in sorted(manifest.items()))
    return hashlib.sha256(joined.encode()).hexdigest()
