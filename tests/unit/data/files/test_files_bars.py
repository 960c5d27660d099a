"""OHLCV readers: every supported layout and container, parsed to BAR_SCHEMA with exact values."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from quantgate.core import DataError
from quantgate.data.files import FileFormat, read_bar_file
from quantgate.data.schema import BAR_SCHEMA, DEFAULT_BAR_PUBLICATION_LATENCY

FETCHED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MS0 = 1704067200000  # 2024-01-01T00:00:00Z in milliseconds
ROWS = [  # open, high, low, close, volume
    (42283.58, 42554.57, 42261.02, 42475.23, 1271.68108),
    (42475.23, 42775.0, 42431.65, 42613.56, 1196.37856),
    (42613.57, 42638.41, 42500.0, 42581.1, 685.21239),
]


def read(path: Path, **options: object) -> pl.DataFrame:
    return read_bar_file(path, source="test", fetched_at=FETCHED, **options).bars  # type: ignore[arg-type]


def assert_bars(frame: pl.DataFrame, symbol: str, step: timedelta = timedelta(hours=1)) -> None:
    assert frame.schema == pl.Schema(BAR_SCHEMA)
    assert frame["symbol"].to_list() == [symbol] * len(ROWS)
    assert frame["source"].to_list() == ["test"] * len(ROWS)
    assert frame["ts"].to_list() == [T0 + i * step for i in range(len(ROWS))]
    assert frame["available_at"].to_list() == [
        T0 + (i + 1) * step + DEFAULT_BAR_PUBLICATION_LATENCY for i in range(len(ROWS))
    ]
    assert frame.select("open", "high", "low", "close", "volume").rows() == ROWS
    assert frame["fetched_at"].to_list() == [FETCHED] * len(ROWS)


def csv_text(header: str, times: list[str]) -> str:
    lines = [header] if header else []
    lines += [",".join([t, *map(repr, row)]) for t, row in zip(times, ROWS, strict=True)]
    return "\n".join(lines) + "\n"


ISO = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]


@pytest.mark.parametrize(
    ("column", "times"),
    [
        ("timestamp", ISO),
        (
            "date",
            ["2024-01-01 00:00:00+00:00", "2024-01-01 01:00:00+00:00", "2024-01-01 02:00+00:00"],
        ),
        ("ts", [str(MS0 // 1000 + i * 3600) for i in range(3)]),  # epoch seconds
        ("open_time", [str(MS0 + i * 3_600_000) for i in range(3)]),  # epoch milliseconds
        ("time", [str((MS0 + i * 3_600_000) * 1000) for i in range(3)]),  # epoch microseconds
        (
            "timestamp",
            ["2024-01-01T00:00:00.000Z", "2024-01-01T01:00:00.000Z", "2024-01-01T02:00:00.000Z"],
        ),
    ],
)
def test_generic_csv_time_forms(tmp_path: Path, column: str, times: list[str]) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text(csv_text(f"{column},open,high,low,close,volume", times))
    assert_bars(read(path), "BTCUSDT")


def test_generic_csv_gz_with_shuffled_columns_and_extras(tmp_path: Path) -> None:
    lines = ["Volume,Close,Low,High,Open,Timestamp,trades"]
    for t, (o, h, lo, c, v) in zip(ISO, ROWS, strict=True):
        lines.append(f"{v!r},{c!r},{lo!r},{h!r},{o!r},{t},7")
    path = tmp_path / "ethusdt-1h.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert_bars(read(path), "ETHUSDT")


def test_rows_are_sorted_by_time(tmp_path: Path) -> None:
    text = csv_text("timestamp,open,high,low,close,volume", ISO).splitlines()
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text("\n".join([text[0], text[3], text[1], text[2]]) + "\n")
    assert_bars(read(path), "BTCUSDT")


def test_generic_json_records_and_jsonl(tmp_path: Path) -> None:
    records = [
        {"timestamp": t, "open": o, "high": h, "low": lo, "close": c, "volume": v}
        for t, (o, h, lo, c, v) in zip(ISO, ROWS, strict=True)
    ]
    array = tmp_path / "SOLUSDT_1h.json"
    array.write_text(json.dumps(records))
    lines = tmp_path / "SOLUSDT_1h.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    assert_bars(read(array), "SOLUSDT")
    assert_bars(read(lines), "SOLUSDT")


def test_generic_parquet_with_typed_utc_times(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(hours=i) for i in range(3)],
            **{
                name: [row[i] for row in ROWS]
                for i, name in enumerate(["open", "high", "low", "close", "volume"])
            },
        },
        schema_overrides={"timestamp": pl.Datetime("ns", "UTC")},
    )
    path = tmp_path / "XRPUSDT_1h.parquet"
    frame.write_parquet(path)
    assert_bars(read(path), "XRPUSDT")


def test_timeframe_is_inferred_when_the_name_has_none(tmp_path: Path) -> None:
    path = tmp_path / "ADAUSDT.csv"
    times = [(T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z") for i in range(3)]
    path.write_text(csv_text("timestamp,open,high,low,close,volume", times))
    parsed = read_bar_file(path, source="test", fetched_at=FETCHED)
    assert parsed.timeframe.label == "1m"
    assert_bars(parsed.bars, "ADAUSDT", step=timedelta(minutes=1))


def test_symbol_and_format_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(csv_text("timestamp,open,high,low,close,volume", ISO))
    assert_bars(read(path, symbol="dotusdt", timeframe="1h", format=FileFormat.OHLCV), "DOTUSDT")
    assert read_bar_file(path, source="test", fetched_at=FETCHED).symbol == "PRICES"


def test_ohlc_inconsistency_is_left_to_the_quality_gate(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,10,9,11,10,0\n")
    frame = read(path)
    assert frame.select("high", "low", "volume").row(0) == (9.0, 11.0, 0.0)


def kline_lines(start_ms: int, unit: int = 1) -> list[str]:
    lines = []
    for i, (o, h, lo, c, v) in enumerate(ROWS):
        open_time = (start_ms + i * 3_600_000) * unit
        close_time = open_time + 3_600_000 * unit - unit
        lines.append(f"{open_time},{o!r},{h!r},{lo!r},{c!r},{v!r},{close_time},1.5,12,0.7,0.3,0")
    return lines


BINANCE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


@pytest.mark.parametrize(
    ("header", "unit"), [(False, 1), (True, 1), (False, 1000)], ids=["ms", "header", "us"]
)
def test_binance_kline_csv(tmp_path: Path, header: bool, unit: int) -> None:
    lines = ([BINANCE_HEADER] if header else []) + kline_lines(MS0, unit)
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_bar_file(path, source="test", fetched_at=FETCHED)
    assert (parsed.format, parsed.symbol, parsed.timeframe.label) == (
        FileFormat.BINANCE,
        "BTCUSDT",
        "1h",
    )
    assert_bars(parsed.bars, "BTCUSDT")


def test_binance_kline_zip_and_detection_by_content(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ETHUSDT-1h-2024-01.csv", "\n".join(kline_lines(MS0)) + "\n")
    zipped = tmp_path / "ETHUSDT-1h-2024-01.zip"
    zipped.write_bytes(buffer.getvalue())
    assert_bars(read(zipped), "ETHUSDT")
    renamed = tmp_path / "ethusdt_1h_klines.csv"
    renamed.write_text("\n".join(kline_lines(MS0)) + "\n")
    parsed = read_bar_file(renamed, source="test", fetched_at=FETCHED)
    assert parsed.format is FileFormat.BINANCE
    assert_bars(parsed.bars, "ETHUSDT")


def freqtrade_rows() -> list[list[float | int]]:
    return [[MS0 + i * 3_600_000, *row] for i, row in enumerate(ROWS)]


def test_freqtrade_json_and_json_gz(tmp_path: Path) -> None:
    plain = tmp_path / "BTC_USDT-1h.json"
    plain.write_text(json.dumps(freqtrade_rows()))
    packed = tmp_path / "ETH_USDT-1h.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(freqtrade_rows()).encode()))
    for path, symbol in ((plain, "BTCUSDT"), (packed, "ETHUSDT")):
        parsed = read_bar_file(path, source="test", fetched_at=FETCHED)
        assert (parsed.format, parsed.symbol, parsed.timeframe.label) == (
            FileFormat.FREQTRADE,
            symbol,
            "1h",
        )
        assert_bars(parsed.bars, symbol)


def freqtrade_table() -> pa.Table:
    # What freqtrade writes through pandas: `date` as datetime64[ns, UTC].
    return pa.table(
        {
            "date": pa.array(
                [(MS0 + i * 3_600_000) * 1_000_000 for i in range(3)], pa.timestamp("ns", "UTC")
            ),
            **{
                name: pa.array([row[i] for row in ROWS], pa.float64())
                for i, name in enumerate(["open", "high", "low", "close", "volume"])
            },
        }
    )


def test_freqtrade_feather_and_parquet(tmp_path: Path) -> None:
    feather_path = tmp_path / "SOL_USDT-1h.feather"
    feather.write_feather(freqtrade_table(), feather_path)
    parquet_path = tmp_path / "XRP_USDT-1h.parquet"
    pl.from_arrow(freqtrade_table()).write_parquet(parquet_path)  # type: ignore[union-attr]
    assert_bars(read(feather_path), "SOLUSDT")
    assert_bars(read(parquet_path), "XRPUSDT")


def test_freqtrade_empty_json_gives_no_bars(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1h.json"
    path.write_text("[]")
    parsed = read_bar_file(path, source="test", fetched_at=FETCHED)
    assert parsed.bars.is_empty() and parsed.bars.schema == pl.Schema(BAR_SCHEMA)


def test_freqtrade_futures_candles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT_USDT-1h-futures.feather"
    feather.write_feather(freqtrade_table(), path)
    with pytest.raises(DataError, match="futures candles, not spot bars"):
        read(path)


def test_timeframe_named_in_the_file_must_match_the_one_asked(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    path.write_text(csv_text("timestamp,open,high,low,close,volume", ISO))
    with pytest.raises(DataError, match="says timeframe 1h but 1m"):
        read(path, timeframe="1m")


def test_bars_off_the_timeframe_grid_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_1h.csv"
    times = ["2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z", "2024-01-01T02:00:00Z"]
    path.write_text(csv_text("timestamp,open,high,low,close,volume", times))
    with pytest.raises(DataError) as caught:
        read(path)
    error = caught.value
    assert (error.source, error.row, error.field) == (str(path), 2, "timestamp")
    assert "not on the 1h grid" in str(error)


def test_a_generic_csv_with_a_binance_style_name_is_read_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text(csv_text("timestamp,open,high,low,close,volume", ISO))
    parsed = read_bar_file(path, source="test", fetched_at=FETCHED, timeframe="60m")
    assert parsed.format is FileFormat.OHLCV
    assert_bars(parsed.bars, "BTCUSDT")
