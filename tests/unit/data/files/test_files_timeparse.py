"""Time parsing round trips: any UTC instant written as ISO-8601 or epoch reads back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantgate.core import DataError
from quantgate.data.files.timeparse import infer_timeframe, parse_timeframe, parse_utc_times

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INSTANTS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def parse(values: list[object]) -> list[datetime]:
    series = pl.Series("t", values)
    rows = pl.Series(range(1, len(values) + 1))
    return parse_utc_times(series, rows, origin="f", field="t").to_list()


@settings(max_examples=60, deadline=None)
@given(st.lists(INSTANTS, min_size=1, max_size=5))
def test_iso_and_epoch_round_trip(moments: list[datetime]) -> None:
    zulu = [m.isoformat().replace("+00:00", "Z") for m in moments]
    offset = [m.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") for m in moments]
    millis = [str((m - EPOCH) // timedelta(milliseconds=1)) for m in moments]
    micros = [(m - EPOCH) // timedelta(microseconds=1) for m in moments]
    for values in (zulu, offset, millis, micros):
        assert parse(values) == moments


@pytest.mark.parametrize("zone", ["Europe/Berlin", None])
def test_typed_times_must_be_utc(zone: str | None) -> None:
    series = pl.Series("t", [datetime(2024, 1, 1)]).dt.replace_time_zone(zone)
    with pytest.raises(DataError, match="not UTC" if zone else "naive"):
        parse_utc_times(series, pl.Series([1]), origin="f", field="t")


def test_mixed_epoch_units_are_refused() -> None:
    with pytest.raises(DataError) as caught:
        parse(["1704067200", "1704070800000"])
    assert caught.value.row == 2 and "seconds" in str(caught.value)


def test_timeframes() -> None:
    assert parse_timeframe("60m") == parse_timeframe("1h")
    assert parse_timeframe("90m").label == "90m"
    assert parse_timeframe("1w").anchor_us == 4 * 86_400_000_000  # Monday 1970-01-05
    with pytest.raises(DataError, match="fixed period"):
        parse_timeframe("1M")
    hours = pl.Series([datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 1, 5)])
    assert infer_timeframe(hours, origin="f").label == "1h"
