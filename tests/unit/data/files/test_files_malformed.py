"""Malformed input: a DataError naming file, row and field, and nothing written to the lake."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from quantgate.core import DataError
from quantgate.data.files import import_path
from quantgate.storage import Lake

HEADER = "timestamp,open,high,low,close,volume"
GOOD = [
    "2024-01-01T00:00:00Z,100.0,101.0,99.0,100.5,10.0",
    "2024-01-01T01:00:00Z,100.5,102.0,100.0,101.5,12.0",
    "2024-01-01T02:00:00Z,101.5,103.0,101.0,102.5,9.0",
]


def csv_with(row: int, replacement: str, header: str = HEADER) -> str:
    """The good CSV with data row `row` (1-based) replaced."""
    rows = list(GOOD)
    rows[row - 1] = replacement
    return "\n".join([header, *rows]) + "\n"


def write_text(name: str, text: str) -> Callable[[Path], Path]:
    def writer(folder: Path) -> Path:
        path = folder / name
        path.write_text(text)
        return path

    return writer


def write_truncated_gzip(folder: Path) -> Path:
    body = ("\n".join([HEADER, *GOOD * 200]) + "\n").encode()
    packed = gzip.compress(body)
    path = folder / "BTCUSDT_1h.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    return path


def write_truncated_zip(folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("BTCUSDT-1h-2024-01.csv", "1704067200000,1,1,1,1,1,0,0,0,0,0,0\n" * 50)
    path = folder / "BTCUSDT-1h-2024-01.zip"
    path.write_bytes(buffer.getvalue()[:-30])
    return path


# (case, writer, expected row, expected field, words the message must contain)
CASES: list[tuple[str, Callable[[Path], Path], int | None, str | None, str]] = [
    (
        "missing column",
        write_text(
            "BTCUSDT_1h.csv", "timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,1,1,1\n"
        ),
        1,
        "volume",
        "needs column 'volume'",
    ),
    (
        "no time column",
        write_text(
            "BTCUSDT_1h.csv", "when,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n"
        ),
        1,
        "timestamp",
        "needs a time column",
    ),
    (
        "unparsable time",
        write_text("BTCUSDT_1h.csv", csv_with(2, "01/01/2024 01:00,100.5,102.0,100.0,101.5,12.0")),
        2,
        "timestamp",
        "not ISO-8601",
    ),
    (
        "naive time",
        write_text(
            "BTCUSDT_1h.csv", csv_with(3, "2024-01-01T02:00:00,101.5,103.0,101.0,102.5,9.0")
        ),
        3,
        "timestamp",
        "no UTC offset",
    ),
    (
        "non-UTC offset",
        write_text("BTCUSDT_1h.csv", csv_with(2, "2024-01-01T03:00:00+02:00,1,1,1,1,1")),
        2,
        "timestamp",
        "non-UTC offset",
    ),
    (
        "NaN price",
        write_text(
            "BTCUSDT_1h.csv", csv_with(2, "2024-01-01T01:00:00Z,100.5,102.0,100.0,NaN,12.0")
        ),
        2,
        "close",
        "NaN or infinite",
    ),
    (
        "missing price",
        write_text("BTCUSDT_1h.csv", csv_with(3, "2024-01-01T02:00:00Z,,103.0,101.0,102.5,9.0")),
        3,
        "open",
        "missing",
    ),
    (
        "text price",
        write_text("BTCUSDT_1h.csv", csv_with(1, "2024-01-01T00:00:00Z,100.0,abc,99.0,100.5,10.0")),
        1,
        "high",
        "not a number",
    ),
    (
        "zero price",
        write_text("BTCUSDT_1h.csv", csv_with(2, "2024-01-01T01:00:00Z,100.5,102.0,0,101.5,12.0")),
        2,
        "low",
        "not positive",
    ),
    (
        "negative volume",
        write_text(
            "BTCUSDT_1h.csv", csv_with(3, "2024-01-01T02:00:00Z,101.5,103.0,101.0,102.5,-1")
        ),
        3,
        "volume",
        "negative",
    ),
    (
        "duplicate key",
        write_text(
            "BTCUSDT_1h.csv", csv_with(3, "2024-01-01T01:00:00Z,101.5,103.0,101.0,102.5,9.0")
        ),
        3,
        "timestamp",
        "duplicate bar",
    ),
    (
        "ragged row",
        write_text("BTCUSDT_1h.csv", csv_with(2, "2024-01-01T01:00:00Z,1,1,1,1,1,1")),
        2,
        None,
        "more fields than the header",
    ),
    (
        "daily bars",
        write_text(
            "BTCUSDT_1d.csv",
            "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n",
        ),
        None,
        "timeframe",
        "the lake stores",
    ),
    ("truncated gzip", write_truncated_gzip, None, None, "truncated"),
    ("truncated zip", write_truncated_zip, None, None, "truncated"),
    (
        "bad JSON line",
        write_text(
            "BTCUSDT_1h.jsonl",
            json.dumps(
                {
                    "timestamp": "2024-01-01T00:00:00Z",
                    "open": 1,
                    "high": 1,
                    "low": 1,
                    "close": 1,
                    "volume": 1,
                }
            )
            + '\n{"timestamp": "2024-01-01T01:00:00Z", "open": 1, "hi\n',
        ),
        2,
        None,
        "not valid JSON",
    ),
    (
        "binance kline with 11 columns",
        write_text("BTCUSDT-1h-2024-01.csv", "1704067200000,1,1,1,1,1,1704070799999,0,0,0,0\n"),
        1,
        None,
        "has 11",
    ),
]


@pytest.mark.parametrize(
    ("writer", "row", "field", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_file_is_refused_and_nothing_is_written(
    tmp_path: Path,
    writer: Callable[[Path], Path],
    row: int | None,
    field: str | None,
    words: str,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = writer(folder)
    lake = Lake(tmp_path / "lake")
    with pytest.raises(DataError) as caught:
        import_path(lake, path)
    error = caught.value
    message = str(error)
    assert error.source == str(path.resolve())
    assert f"file {path.resolve()}" in message
    assert words in message
    if row is not None:
        assert error.row == row
        assert f"row {row}" in message
    if field is not None:
        assert error.field == field
        assert f"field {field!r}" in message
    assert lake.datasets() == []


def test_one_bad_file_in_a_folder_stops_the_whole_import(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for symbol in ("ADAUSDT", "BTCUSDT", "ETHUSDT"):
        (folder / f"{symbol}_1h.csv").write_text("\n".join([HEADER, *GOOD]) + "\n")
    bad = folder / "XRPUSDT_1h.csv"
    bad.write_text(csv_with(2, "2024-01-01T01:00:00Z,1,1,1,inf,1"))
    lake = Lake(tmp_path / "lake")
    with pytest.raises(DataError) as caught:
        import_path(lake, folder)
    assert (caught.value.source, caught.value.row, caught.value.field) == (
        str(bad.resolve()),
        2,
        "close",
    )
    assert lake.datasets() == []


def test_the_same_bar_in_two_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    january = "\n".join(f"{1704067200000 + i * 3_600_000},1,1,1,1,1,0,0,0,0,0,0" for i in range(3))
    overlap = "\n".join(f"{1704067200000 + i * 3_600_000},1,1,1,1,1,0,0,0,0,0,0" for i in (2, 3))
    (folder / "BTCUSDT-1h-2024-01-01.csv").write_text(january + "\n")
    second = folder / "BTCUSDT-1h-2024-01-02.csv"
    second.write_text(overlap + "\n")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(DataError) as caught:
        import_path(lake, folder)
    error = caught.value
    assert (error.source, error.row) == (str(second.resolve()), 1)
    assert "BTCUSDT-1h-2024-01-01.csv row 3 holds the same key" in str(error)
    assert lake.datasets() == []


def test_a_folder_mixing_bars_and_texts_is_refused(tmp_path: Path) -> None:
    (tmp_path / "BTCUSDT_1h.csv").write_text("\n".join([HEADER, *GOOD]) + "\n")
    (tmp_path / "posts.csv").write_text("id,published_at,symbols\n1,2024-01-01T00:00:00Z,BTC\n")
    with pytest.raises(DataError, match="mixes bar files"):
        import_path(Lake(tmp_path / "lake"), tmp_path)
