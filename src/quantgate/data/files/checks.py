"""Column checks that stop at the first bad row and say exactly where it is.

Each check looks at a whole column at once (vectorised) and, if any row fails,
raises one DataError naming the file, the first failing row, the field, the
offending value and how many rows share the problem, so the operator can
quarantine the file knowing the size of the damage.
"""

from __future__ import annotations

import polars as pl

from quantgate.core.errors import DataError

_SHOWN = 80  # longest offending value quoted in a message


def fail_first(
    bad: pl.Series,
    rows: pl.Series,
    *,
    origin: str,
    field: str,
    problem: str,
    fix: str,
    values: pl.Series | None = None,
) -> None:
    """Raise for the first row where `bad` is true; do nothing when no row is bad."""
    bad = bad.fill_null(value=False)
    if not bad.any():
        return
    index = int(bad.arg_true()[0])
    count = int(bad.sum())
    message = problem
    if values is not None:
        shown = repr(values[index])
        message += f" (value {shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + '…'})"
    if count > 1:
        message += f"; {count} rows have this problem"
    raise DataError(message, source=origin, row=int(rows[index]), field=field, fix=fix)


def require_columns(frame: pl.DataFrame, wanted: list[str], *, origin: str, what: str) -> None:
    """Every column in `wanted` must be present; names the first one missing."""
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if not c.startswith("__")]
        raise DataError(
            f"{what} needs column {missing[0]!r} but the file has {present}",
            source=origin,
            # The first data row is where the value is missing; a header has no data row.
            row=1,
            field=missing[0],
            fix=f"provide the columns {wanted}",
        )


def require_values(values: pl.Series, rows: pl.Series, *, origin: str, field: str) -> None:
    fail_first(
        values.is_null(),
        rows,
        origin=origin,
        field=field,
        problem="the value is missing",
        fix="fill the value or remove the row",
    )


def parse_numbers(values: pl.Series, rows: pl.Series, *, origin: str, field: str) -> pl.Series:
    """`values` as float64; a missing or unparsable value is an error, never a null."""
    require_values(values, rows, origin=origin, field=field)
    if values.dtype.is_numeric():
        return values.cast(pl.Float64)
    if values.dtype != pl.String:
        fail_first(
            pl.Series([True] * values.len()),
            rows,
            origin=origin,
            field=field,
            problem=f"the column holds {values.dtype} values, not numbers",
            fix="store the column as numbers",
        )
    parsed = values.str.strip_chars().cast(pl.Float64, strict=False)
    fail_first(
        parsed.is_null(),
        rows,
        origin=origin,
        field=field,
        problem="the value is not a number",
        fix="correct the value or remove the row",
        values=values,
    )
    return parsed


def require_finite(numbers: pl.Series, rows: pl.Series, *, origin: str, field: str) -> None:
    fail_first(
        numbers.is_nan() | numbers.is_infinite(),
        rows,
        origin=origin,
        field=field,
        problem="the value is NaN or infinite",
        fix="correct the value or remove the row; missing data must stay missing, not NaN",
        values=numbers,
    )


def require_unique(
    keys: pl.DataFrame, rows: pl.Series, *, origin: str, field: str, what: str
) -> None:
    """No key twice; names the row of the second occurrence and where the first one was."""
    indexed = keys.with_row_index("__i").with_columns(
        pl.col("__i").min().over(keys.columns).alias("__first")
    )
    repeated = indexed["__i"] != indexed["__first"]
    if not repeated.any():
        return
    index = int(repeated.arg_true()[0])
    key = ", ".join(f"{name}={value}" for name, value in keys.row(index, named=True).items())
    first = int(rows[int(indexed["__first"][index])])
    count = int(repeated.sum())
    message = f"duplicate {what} ({key}): row {first} has the same key"
    if count > 1:
        message += f"; {count} rows repeat an earlier key"
    raise DataError(
        message,
        source=origin,
        row=int(rows[index]),
        field=field,
        fix="remove the duplicate rows; the file must name each key once",
    )
