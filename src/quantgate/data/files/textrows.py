"""The intermediate rows every text layout produces, and the helpers the layouts share."""

from __future__ import annotations

import polars as pl

from quantgate.data.files.checks import fail_first, require_unique, require_values
from quantgate.data.files.tables import ROW
from quantgate.data.schema import UTC_TIME

TEXT_ROWS_SCHEMA: dict[str, pl.DataType] = {
    ROW: pl.Int64(),
    "kind": pl.String(),  # "post" or "comment"
    "id": pl.String(),  # post_id for a post, comment_id for a comment
    "post_id": pl.String(),  # comments: the post they sit under
    "parent_id": pl.String(),  # comments: the post or comment they answer
    "ts": UTC_TIME,  # published_at
    "author": pl.String(),
    "title": pl.String(),
    "body": pl.String(),
    "names": pl.List(pl.String()),  # communities / tickers / symbols the text is about
}


def column_or_null(table: pl.DataFrame, column: str) -> pl.Series:
    """An optional text column, or all nulls when the file lacks it."""
    if column in table.columns:
        return table[column].cast(pl.String)
    return pl.Series(column, [None] * table.height, dtype=pl.String)


def blank_to_null(values: pl.Series) -> pl.Series:
    """Trimmed text with empty strings as nulls: a blank cell means "not given"."""
    trimmed = values.str.strip_chars()
    return trimmed.zip_with(trimmed != "", pl.Series([None] * len(trimmed), dtype=pl.String))


def required_ids(table: pl.DataFrame, column: str, *, origin: str) -> pl.Series:
    ids = table[column].cast(pl.String).str.strip_chars()
    rows = table[ROW]
    require_values(ids, rows, origin=origin, field=column)
    fail_first(
        ids == "",
        rows,
        origin=origin,
        field=column,
        problem="the id is empty",
        fix="give every text an id",
    )
    return ids


def require_unique_ids(
    ids: pl.Series, kinds: pl.Series, rows: pl.Series, *, origin: str, field: str
) -> None:
    """Each post id and each comment id once (the two kinds are separate datasets)."""
    for kind in ("post", "comment"):
        mask = kinds == kind
        require_unique(
            pl.DataFrame({"id": ids.filter(mask)}),
            rows.filter(mask),
            origin=origin,
            field=field,
            what=kind,
        )


def text_rows(**columns: pl.Series) -> pl.DataFrame:
    """Assemble `TEXT_ROWS_SCHEMA` from the given columns (all equal length)."""
    return pl.DataFrame(columns).select(
        [pl.col(name).cast(dtype, strict=True) for name, dtype in TEXT_ROWS_SCHEMA.items()]
    )
