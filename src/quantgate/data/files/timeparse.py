"""Strict UTC time parsing and bar timeframes.

A time is accepted only when its zone is certain: ISO-8601 text with `Z` or a
zero offset, epoch numbers (seconds, milliseconds, microseconds or nanoseconds;
one unit per column), or a typed UTC timestamp. A naive time or a non-UTC
offset is refused rather than guessed: an hour's shift would silently move every
bar and text across the point-in-time boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from quantgate.core.errors import DataError
from quantgate.data.files.checks import fail_first, require_values
from quantgate.data.schema import UTC_TIME

_ISO = (
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:[.,]\d+)?)?\s*"
    r"(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)
_UTC_OFFSETS = ["Z", "z", "UTC", "+00", "+0000", "+00:00", "-00", "-0000", "-00:00"]
_UTC_ZONES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "+00:00", "Z"}
_DIGITS = r"^\d+$"
# Epoch magnitude bands as (unit, low, high, multiply, divide), where microseconds
# = value * multiply // divide. Seconds below 1e11 reach year 5138; milliseconds
# below 1e11 would be before 1973, so the bands never overlap for market data.
_EPOCH_UNITS: tuple[tuple[str, int, int, int, int], ...] = (
    ("seconds", 0, 10**11, 1_000_000, 1),
    ("milliseconds", 10**11, 10**14, 1_000, 1),
    ("microseconds", 10**14, 10**17, 1, 1),
    ("nanoseconds", 10**17, 2**63 - 1, 1, 1_000),
)
_UTC_FIX = "write times in UTC with a 'Z' or '+00:00' suffix, or as epoch numbers"


def parse_utc_times(values: pl.Series, rows: pl.Series, *, origin: str, field: str) -> pl.Series:
    """`values` as datetime[us, UTC]; raises DataError naming the first row that is not UTC."""
    require_values(values, rows, origin=origin, field=field)
    if values.is_empty():
        return pl.Series(values.name, [], dtype=UTC_TIME)
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime):
        return _typed_times(values, rows, origin=origin, field=field)
    if dtype == pl.Date:
        _refuse_all(values, rows, origin, field, "the column holds dates without a time or zone")
    if dtype.is_integer():
        return _epoch_times(values.cast(pl.Int64), rows, origin=origin, field=field)
    if dtype.is_float():
        whole = values.cast(pl.Int64, strict=False)
        fail_first(
            whole.is_null() | (whole.cast(pl.Float64) != values),
            rows,
            origin=origin,
            field=field,
            problem="the epoch time is not a whole number",
            fix=_UTC_FIX,
            values=values,
        )
        return _epoch_times(whole, rows, origin=origin, field=field)
    if dtype != pl.String:
        _refuse_all(values, rows, origin, field, f"the column holds {dtype} values, not times")
    text = values.str.strip_chars()
    if text.str.contains(_DIGITS)[0]:
        numbers = text.cast(pl.Int64, strict=False)
        fail_first(
            numbers.is_null(),
            rows,
            origin=origin,
            field=field,
            problem="the time is not an epoch number like the first row's",
            fix=_UTC_FIX,
            values=values,
        )
        return _epoch_times(numbers, rows, origin=origin, field=field)
    return _iso_times(text, rows, origin=origin, field=field)


def _refuse_all(values: pl.Series, rows: pl.Series, origin: str, field: str, problem: str) -> None:
    fail_first(
        pl.Series([True] * values.len()),
        rows,
        origin=origin,
        field=field,
        problem=problem,
        fix=_UTC_FIX,
    )


def _typed_times(values: pl.Series, rows: pl.Series, *, origin: str, field: str) -> pl.Series:
    dtype = values.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is None:
        _refuse_all(values, rows, origin, field, "the times have no time zone (naive)")
    elif dtype.time_zone not in _UTC_ZONES:
        _refuse_all(
            values, rows, origin, field, f"the times are in zone {dtype.time_zone}, not UTC"
        )
    return values.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _epoch_times(numbers: pl.Series, rows: pl.Series, *, origin: str, field: str) -> pl.Series:
    fail_first(
        numbers < 0,
        rows,
        origin=origin,
        field=field,
        problem="the epoch time is negative",
        fix=_UTC_FIX,
        values=numbers,
    )
    first = int(numbers[0])
    name, low, high, multiply, divide = next(u for u in _EPOCH_UNITS if u[1] <= first < u[2])
    # One unit per column: a row in another magnitude band is a mixed-up file, not a
    # different era, and guessing its unit row by row would hide that.
    fail_first(
        (numbers < low) | (numbers >= high),
        rows,
        origin=origin,
        field=field,
        problem=f"the epoch time is not in {name} like the first row's ({first})",
        fix="write every time in the column in the same epoch unit",
        values=numbers,
    )
    return (numbers * multiply // divide).cast(UTC_TIME)


def _iso_times(text: pl.Series, rows: pl.Series, *, origin: str, field: str) -> pl.Series:
    parts = text.str.extract_groups(_ISO).struct.unnest()
    date, clock, seconds, offset = (parts[c] for c in parts.columns)
    local = date + "T" + clock + seconds.fill_null(":00").str.replace(",", ".", literal=True)
    parsed = local.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f", time_unit="us", time_zone="UTC", strict=False
    )
    checks = (
        (date.is_null(), "the time is not ISO-8601 (YYYY-MM-DDTHH:MM:SSZ) nor an epoch number"),
        (offset.is_null(), "the time has no UTC offset (a naive time is never guessed)"),
        (~offset.is_in(_UTC_OFFSETS), "the time has a non-UTC offset"),
        (parsed.is_null(), "the time is not a valid calendar date and time"),
    )
    # Report the earliest bad row whatever its problem, not the first problem type.
    problem = pl.select(
        pl.coalesce(
            [pl.when(pl.lit(mask)).then(pl.lit(message)) for mask, message in checks]
        ).alias("problem")
    ).to_series()
    bad = problem.is_not_null()
    if bad.any():
        index = int(bad.arg_true()[0])
        fail_first(
            bad & (problem == problem[index]),
            rows,
            origin=origin,
            field=field,
            problem=str(problem[index]),
            fix=_UTC_FIX,
            values=text,
        )
    return parsed


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A bar period on a fixed UTC grid; weekly bars open on Mondays like Binance's."""

    label: str
    period: timedelta

    @property
    def period_us(self) -> int:
        return self.period // timedelta(microseconds=1)

    @property
    def anchor_us(self) -> int:
        # 1970-01-01 was a Thursday; Monday 1970-01-05 anchors the weekly grid.
        return 4 * 86_400_000_000 if self.label.endswith("w") else 0


_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_TIMEFRAME = re.compile(r"^(\d+)(s|m|h|d|w)$")
TIMEFRAME_TOKEN = re.compile(r"^\d+(s|m|h|d|w|M|mo)$")


def parse_timeframe(label: str, *, origin: str | None = None) -> Timeframe:
    """A timeframe label in its canonical form: `60m` and `1h` are the same timeframe."""
    match = _TIMEFRAME.match(label.strip())
    if match is None or int(match.group(1)) == 0:
        raise DataError(
            f"timeframe {label!r} is not a fixed period (like 1m, 5m, 1h, 1d, 1w)",
            source=origin,
            field="timeframe",
            fix="monthly bars have no fixed length; use a fixed timeframe",
        )
    return timeframe_of(int(match.group(1)) * _UNITS[match.group(2)])


def timeframe_of(period: timedelta) -> Timeframe:
    """The label for a period, in the largest unit that divides it (3600 s → 1h)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if period >= size and period % size == timedelta(0):
            return Timeframe(f"{period // size}{unit}", period)
    raise DataError(f"bar spacing {period} is shorter than a second", field="timeframe")


def infer_timeframe(ts: pl.Series, *, origin: str) -> Timeframe:
    """The smallest step between distinct bar times; gaps only widen steps, never shrink them."""
    steps = ts.unique().sort().diff().drop_nulls()
    if steps.is_empty():
        raise DataError(
            "cannot tell the timeframe from fewer than two bars",
            source=origin,
            field="timeframe",
            fix="name it in the file name (BTCUSDT_1h.csv) or pass timeframe",
        )
    step = steps.min()
    assert isinstance(step, timedelta)
    return timeframe_of(step)


def check_grid(
    ts: pl.Series, rows: pl.Series, timeframe: Timeframe, *, origin: str, field: str
) -> None:
    """Every bar must open on the timeframe's grid; an off-grid bar means a wrong timeframe."""
    micros = ts.cast(pl.Int64)
    fail_first(
        (micros - timeframe.anchor_us) % timeframe.period_us != 0,
        rows,
        origin=origin,
        field=field,
        problem=f"the bar time is not on the {timeframe.label} grid",
        fix=f"check the timeframe ({timeframe.label}) and that times are bar open times",
        values=ts,
    )
