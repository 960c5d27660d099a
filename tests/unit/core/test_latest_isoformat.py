from datetime import UTC, datetime, timedelta, timezone

from quantgate.core.clock import LatestIsoformat


def test_repeats_and_changes_give_isoformat() -> None:
    text = LatestIsoformat()
    first = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    second = first + timedelta(microseconds=5)
    assert text(first) == first.isoformat()
    assert text(first) == "2024-03-01T12:00:00+00:00"
    assert text(second) == "2024-03-01T12:00:00.000005+00:00"
    assert text(first) == first.isoformat()


def test_an_equal_time_in_another_zone_keeps_its_own_text() -> None:
    text = LatestIsoformat()
    utc = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert paris == utc
    assert text(utc) == "2024-03-01T12:00:00+00:00"
    assert text(paris) == "2024-03-01T13:00:00+01:00"
    assert text(utc) == "2024-03-01T12:00:00+00:00"
