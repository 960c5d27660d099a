"""Join the frames of several files into one, refusing a key that two files both hold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from quantgate.core.errors import DataError
from quantgate.data.files.tables import ROW

_FILE = "__file"


def merge_files(
    parts: Sequence[tuple[Path, pl.DataFrame]],
    *,
    key: Sequence[str],
    sort: Sequence[str],
    what: str,
) -> pl.DataFrame:
    """Concatenate per-file frames (each with `ROW`) and drop `ROW`; a repeated key is an error.

    Each file was already checked on its own; this catches the same key in two
    files (say, overlapping monthly downloads), naming the second file and row
    and where the first copy is, so neither is silently preferred.
    """
    frames = [
        frame.with_columns(pl.lit(i, dtype=pl.Int64).alias(_FILE))
        for i, (_, frame) in enumerate(parts)
    ]
    if not frames:
        raise DataError(f"no files hold {what}s")
    merged = pl.concat(frames, how="vertical")
    if len(frames) > 1:
        indexed = merged.with_row_index("__i").with_columns(
            pl.col("__i").min().over(list(key)).alias("__first")
        )
        repeated = indexed.filter(pl.col("__i") != pl.col("__first"))
        if not repeated.is_empty():
            second = repeated.row(0, named=True)
            first = indexed.row(int(second["__first"]), named=True)
            shown = ", ".join(f"{name}={second[name]}" for name in key)
            raise DataError(
                f"duplicate {what} ({shown}): file {parts[first[_FILE]][0]} row {first[ROW]} "
                f"holds the same key; {repeated.height} rows repeat a key from another file",
                source=str(parts[second[_FILE]][0]),
                row=int(second[ROW]),
                field=",".join(key),
                fix="import overlapping files separately, or remove the overlap",
            )
    return merged.drop(ROW, _FILE).sort(list(sort))
