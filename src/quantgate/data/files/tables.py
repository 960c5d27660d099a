"""Open a data file, whatever its container, as a table of raw values plus each row's number.

Every reader here returns the row number (`ROW`, 1-based: the data row of a CSV
or JSON array, the line of a JSON-lines file) next to the values, so a check far
downstream can still tell the operator exactly where the bad value sits.
Delimited and JSON files come back as text columns: parsing numbers and times is
the caller's job, done strictly, so nothing is coerced to null on the way in.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from quantgate.core.errors import ConfigurationError, DataError

ROW = "__row"
# freqtrade's JSON candles are bare arrays in this order.
ARRAY_COLUMNS = ("date", "open", "high", "low", "close", "volume")

_TABLE_KINDS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".feather": "ipc",
    ".arrow": "ipc",
    ".ipc": "ipc",
}
_COMPRESSIONS = {".gz": "gzip", ".zip": "zip"}
_PEEK_LIMIT = 1 << 20  # a header line longer than 1 MiB is not a header


@dataclass(frozen=True, slots=True)
class FileName:
    """What a file name says about its contents: `BTCUSDT_1h.csv.gz` → (`BTCUSDT_1h`, csv, gzip)."""

    stem: str
    kind: str  # csv, tsv, json, jsonl, parquet, ipc
    compression: str | None  # gzip, zip or None


def parse_file_name(name: str) -> FileName | None:
    """None for a name that is not a data file we read (README.md, SOURCE.md, …)."""
    base, compression = name, None
    for suffix, method in _COMPRESSIONS.items():
        if base.lower().endswith(suffix):
            base, compression = base[: -len(suffix)], method
            break
    for suffix, kind in _TABLE_KINDS.items():
        if base.lower().endswith(suffix):
            return FileName(base[: -len(suffix)], kind, compression)
    if compression == "zip":
        # data.binance.vision ships BTCUSDT-1h-2024-01.zip holding BTCUSDT-1h-2024-01.csv.
        return FileName(base, "csv", compression)
    return None


def data_files(path: Path) -> list[Path]:
    """The data files at `path`: the file itself, or a folder's data files (not recursive).

    Not recursive on purpose: freqtrade keeps futures candles in a `futures/`
    subfolder under the same symbol names, and those must not pass as spot bars.
    """
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and parse_file_name(p.name)
        )
        if not found:
            raise ConfigurationError(
                f"folder {path} holds no data files",
                field="path",
                fix="point at a folder with .csv, .csv.gz, .zip, .json, .jsonl, .parquet or "
                ".feather files",
            )
        return found
    raise ConfigurationError(f"{path} does not exist", field="path", fix="give an existing path")


def read_payload(path: Path) -> tuple[bytes, FileName]:
    """The decompressed bytes of `path` and the name of what they hold."""
    origin = str(path)
    name = _require_name(path.name, origin)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read the file ({error.strerror})", source=origin) from None
    if name.compression == "gzip":
        return _gunzip(raw, origin), name
    if name.compression == "zip":
        data, member = _unzip(raw, origin)
        return data, _require_name(member, origin)
    return raw, name


def read_table(path: Path, *, header: bool = True) -> pl.DataFrame:
    """The table in `path` with lower-cased column names and the row number in `ROW`."""
    data, name = read_payload(path)
    origin = str(path)
    if name.kind in ("csv", "tsv"):
        frame = _read_delimited(data, "\t" if name.kind == "tsv" else ",", header, origin)
    elif name.kind == "json":
        frame = _read_json(data, origin)
    elif name.kind == "jsonl":
        frame = _read_json_lines(data, origin)
    elif name.kind == "parquet":
        frame = _read_binary(pl.read_parquet, data, "Parquet", origin)
    else:
        frame = _read_binary(pl.read_ipc, data, "Feather/Arrow", origin)
    return _normalise_columns(frame, origin)


def peek_first_line(path: Path) -> str:
    """The first line of a delimited file, read without decompressing the whole file."""
    origin = str(path)
    name = _require_name(path.name, origin)
    try:
        if name.compression == "gzip":
            with gzip.open(path, "rb") as handle:
                line = handle.readline(_PEEK_LIMIT)
        elif name.compression == "zip":
            with zipfile.ZipFile(path) as archive:
                member = _single_member(archive, origin)
                with archive.open(member) as handle:
                    line = handle.readline(_PEEK_LIMIT)
        else:
            with path.open("rb") as handle:
                line = handle.readline(_PEEK_LIMIT)
    except EOFError:
        raise _truncated(origin) from None
    except (OSError, zipfile.BadZipFile, zlib.error) as error:
        raise _corrupt(origin, error) from None
    return line.decode("utf-8-sig", errors="replace").rstrip("\r\n")


def peek_columns(path: Path) -> list[str]:
    """Column names of `path` (normalised like `read_table`), reading as little as possible."""
    name = _require_name(path.name, str(path))
    if name.kind in ("csv", "tsv"):
        fields = next(
            csv.reader([peek_first_line(path)], delimiter="\t" if name.kind == "tsv" else ","), []
        )
        return [_normalise_name(field) for field in fields]
    try:
        if name.kind == "parquet" and name.compression is None:
            return [_normalise_name(c) for c in pl.read_parquet_schema(path)]
        if name.kind == "ipc" and name.compression is None:
            return [_normalise_name(c) for c in pl.read_ipc_schema(path)]
    except (Exception, pl.exceptions.PanicException) as error:
        raise _corrupt(str(path), error) from None
    return [c for c in read_table(path).columns if c != ROW]


def _require_name(name: str, origin: str) -> FileName:
    parsed = parse_file_name(name)
    if parsed is None:
        raise DataError(
            f"cannot tell the file type of {name!r}",
            source=origin,
            fix="name the file .csv, .tsv, .json, .jsonl, .parquet or .feather (optionally .gz)",
        )
    return parsed


def _truncated(origin: str) -> DataError:
    return DataError(
        "the file is truncated: the compressed stream ends before its end marker",
        source=origin,
        fix="download or copy the file again; nothing was imported",
    )


def _corrupt(origin: str, error: BaseException) -> DataError:
    return DataError(
        f"the file is corrupt or truncated ({error})",
        source=origin,
        fix="download or copy the file again; nothing was imported",
    )


def _gunzip(raw: bytes, origin: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise _truncated(origin) from None
    except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise _corrupt(origin, error) from None


def _single_member(archive: zipfile.ZipFile, origin: str) -> zipfile.ZipInfo:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) != 1:
        raise DataError(
            f"the zip archive holds {len(members)} files; expected exactly one",
            source=origin,
            fix="unpack the archive and import its files",
        )
    return members[0]


def _unzip(raw: bytes, origin: str) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            member = _single_member(archive, origin)
            return archive.read(member), Path(member.filename).name
    except EOFError:
        raise _truncated(origin) from None
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        raise _corrupt(origin, error) from None


def _read_delimited(data: bytes, separator: str, header: bool, origin: str) -> pl.DataFrame:
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            has_header=header,
            separator=separator,
            infer_schema=False,
            row_index_name=ROW,
            row_index_offset=1,
        )
    except pl.exceptions.NoDataError:
        raise DataError(
            "the file is empty", source=origin, fix="remove the file or re-export it"
        ) from None
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as error:
        row = _first_ragged_row(data, separator, header)
        if row is not None:
            raise DataError(
                "the row has more fields than the header",
                source=origin,
                row=row,
                fix="quote fields that contain the separator, or re-export the file",
            ) from None
        raise DataError(
            f"cannot parse the file: {_reason(error)} (it may be truncated)",
            source=origin,
            fix="re-export the file with every quoted field closed",
        ) from None
    return frame.with_columns(pl.col(ROW).cast(pl.Int64))


def _reason(error: BaseException) -> str:
    """The cause inside a Polars parse error, without its advice about schema inference
    (which does not apply: every column is read as text)."""
    text = str(error)
    original = re.search(r"Original error: ```(.*?)```", text, re.DOTALL)
    reason = original.group(1) if original else text
    return " ".join(reason.split())[:300]


def _first_ragged_row(data: bytes, separator: str, header: bool) -> int | None:
    """The data row that has too many fields; only runs after a parse already failed."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")), delimiter=separator)
    width: int | None = None
    for index, fields in enumerate(reader):
        if width is None:
            width = len(fields)
            if header:
                continue
        if len(fields) > width:
            return index if header else index + 1
    return None


def _json_error(origin: str, error: ValueError) -> DataError:
    where = ""
    if isinstance(error, json.JSONDecodeError):
        where = f" at line {error.lineno}, column {error.colno}: {error.msg}"
    return DataError(
        f"the file is not valid JSON{where} (it may be truncated)",
        source=origin,
        fix="download or export the file again",
    )


def _read_json(data: bytes, origin: str) -> pl.DataFrame:
    try:
        document = json.loads(data)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise _json_error(origin, error) from None
    if not isinstance(document, list):
        raise DataError(
            "expected a JSON array of records (or of [time, open, high, low, close, volume])",
            source=origin,
        )
    return _records_frame(document, range(1, len(document) + 1), origin)


def _read_json_lines(data: bytes, origin: str) -> pl.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _json_error(origin, error) from None
    records: list[Any] = []
    rows: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise DataError(
                "the line is not valid JSON (the file may be truncated)",
                source=origin,
                row=number,
                fix="repair or remove the line",
            ) from None
        rows.append(number)
    return _records_frame(records, rows, origin)


def _records_frame(records: list[Any], rows: Iterable[int], origin: str) -> pl.DataFrame:
    row_numbers = list(rows)
    columns: dict[str, list[str | None]] = {}
    for position, (record, row) in enumerate(zip(records, row_numbers, strict=True)):
        if isinstance(record, list):
            if len(record) != len(ARRAY_COLUMNS):
                raise DataError(
                    f"the array has {len(record)} values; expected {len(ARRAY_COLUMNS)} "
                    f"({', '.join(ARRAY_COLUMNS)})",
                    source=origin,
                    row=row,
                )
            record = dict(zip(ARRAY_COLUMNS, record, strict=True))
        if not isinstance(record, dict):
            raise DataError("the row is neither a JSON object nor an array", source=origin, row=row)
        for key in record:
            # A key first seen late is missing (null) in every earlier row.
            columns.setdefault(str(key), [None] * position)
        for key, values in columns.items():
            values.append(_as_text(record.get(key)))
    frame = pl.DataFrame(
        {ROW: row_numbers, **columns},
        schema={ROW: pl.Int64(), **{name: pl.String() for name in columns}},
    )
    return frame


def _as_text(value: Any) -> str | None:
    """A JSON value as the text a CSV would hold, so both go through the same strict parsers."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # never let a boolean pass as 1 or 0
    if isinstance(value, int | float):
        return repr(value)  # repr round-trips a float exactly (and keeps nan/inf visible)
    if isinstance(value, list):
        return ",".join(_as_text(item) or "" for item in value)
    return json.dumps(value)


def _read_binary(
    reader: Callable[[io.BytesIO], pl.DataFrame], data: bytes, kind: str, origin: str
) -> pl.DataFrame:
    try:
        frame = reader(io.BytesIO(data))
    except (Exception, pl.exceptions.PanicException) as error:
        # Readers report damaged files with many exception types; all mean the same here.
        raise DataError(
            f"cannot read the {kind} file; it is corrupt or truncated ({error})",
            source=origin,
            fix="download or export the file again; nothing was imported",
        ) from None
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _normalise_name(name: str) -> str:
    return name.lstrip("\ufeff").strip().lower()


def _normalise_columns(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    names = [c if c == ROW else _normalise_name(c) for c in frame.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                "the header names this column twice",
                source=origin,
                field=name,
                fix="rename or drop one of the columns",
            )
        seen.add(name)
    return frame.rename(dict(zip(frame.columns, names, strict=True)))
