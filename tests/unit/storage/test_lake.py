import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from quantgate.core import DataError
from quantgate.storage import Lake
from quantgate.storage.lake import manifest_hash


def bars(symbol: str, start: datetime, hours: int, close: float = 1.0) -> pl.DataFrame:
    ts = [start + timedelta(hours=i) for i in range(hours)]
    return pl.DataFrame(
        {
            "source": ["test"] * hours,
            "symbol": [symbol] * hours,
            "ts": ts,
            "close": [close + i for i in range(hours)],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def test_upsert_partitions_by_symbol_and_year(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    frame = pl.concat(
        [
            bars("BTC", datetime(2019, 12, 31, 22, tzinfo=UTC), 4),
            bars("ETH", datetime(2020, 6, 1, tzinfo=UTC), 2),
        ]
    )
    result = lake.upsert("bars", frame, key=["source", "symbol", "ts"])
    assert (result.inserted, result.updated, result.partitions_written) == (6, 0, 3)
    assert [(p.symbol, p.year) for p in lake.partitions("bars")] == [
        ("BTC", 2019),
        ("BTC", 2020),
        ("ETH", 2020),
    ]
    read = lake.read("bars", ["BTC"], start=datetime(2020, 1, 1, tzinfo=UTC))
    assert read["close"].to_list() == [3.0, 4.0]


def test_upsert_is_idempotent_and_replaces_by_key(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    lake.upsert("bars", bars("BTC", start, 5), key=["source", "symbol", "ts"])
    path = lake.partition_path("bars", "BTC", 2021)
    before = path.stat().st_mtime_ns
    again = lake.upsert("bars", bars("BTC", start, 5), key=["source", "symbol", "ts"])
    assert (again.inserted, again.updated, again.unchanged, again.partitions_written) == (
        5 * 0,
        0,
        5,
        0,
    )
    assert path.stat().st_mtime_ns == before
    changed = lake.upsert(
        "bars",
        bars("BTC", start + timedelta(hours=3), 4, close=100.0),
        key=["source", "symbol", "ts"],
    )
    assert (changed.inserted, changed.updated) == (2, 2)
    stored = lake.read("bars", ["BTC"])
    assert stored.height == 7
    assert stored["close"].to_list() == [1.0, 2.0, 3.0, 100.0, 101.0, 102.0, 103.0]


def test_upsert_refuses_duplicate_keys_and_writes_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    frame = bars("BTC", datetime(2021, 1, 1, tzinfo=UTC), 3)
    with pytest.raises(DataError, match="repeat key"):
        lake.upsert("bars", pl.concat([frame, frame.head(1)]), key=["source", "symbol", "ts"])
    assert lake.partitions("bars") == []


def test_manifest_changes_with_content(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    lake.upsert("bars", bars("BTC", start, 3), key=["source", "symbol", "ts"])
    first = manifest_hash(lake.manifest("bars"))
    assert first == manifest_hash(lake.manifest("bars"))
    lake.upsert("bars", bars("BTC", start, 3, close=2.0), key=["source", "symbol", "ts"])
    assert manifest_hash(lake.manifest("bars")) != first


CRASH_SCRIPT = """
import os, sys
from datetime import datetime, timezone
from pathlib import Path
import polars as pl
from quantgate.storage import Lake

def crash(*args, **kwargs):
    os._exit(17)  # the process dies between writing the temp file and the rename

Path.replace = crash
lake = Lake(Path(sys.argv[1]))
frame = pl.DataFrame({"symbol": ["BTC"], "ts": [datetime(2021, 1, 1, tzinfo=timezone.utc)],
                      "close": [999.0]})
lake.write_partition("bars", "BTC", 2021, frame)
"""


def test_crash_mid_write_leaves_previous_partition_readable(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    original = bars("BTC", datetime(2021, 1, 1, tzinfo=UTC), 3).select("symbol", "ts", "close")
    lake.write_partition("bars", "BTC", 2021, original)
    completed = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(tmp_path)])
    assert completed.returncode == 17
    folder = lake.partition_path("bars", "BTC", 2021).parent
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the crash left its temporary file behind...
    # ...and readers never see it: the old partition is whole and unchanged.
    assert lake.read("bars").equals(original)
    assert len(lake.partitions("bars")) == 1


def test_truncated_temp_file_is_not_read(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    original = bars("BTC", datetime(2021, 1, 1, tzinfo=UTC), 2).select("symbol", "ts", "close")
    target = lake.write_partition("bars", "BTC", 2021, original)
    (target.parent / ".tmp-half-written-data.parquet").write_bytes(target.read_bytes()[:20])
    assert lake.read("bars").equals(original)
