"""The reddit export layout (shared/data/reddit_crypto_2022 and exports like it).

Columns: `id, kind (submission|comment), timestamp (UTC ISO-8601), subreddit,
title, text, parent_id, link_id` (+ optional `author`; score and the rest are
ignored). Ids become Reddit fullnames — `t3_<id>` for a submission, `t1_<id>`
for a comment — the notation `parent_id` and `link_id` already use, so a
comment's `post_id` is its `link_id` as written and no id can collide across
the two kinds. The subreddit says which symbols a text is about.
"""

from __future__ import annotations

import polars as pl

from quantgate.data.files.checks import fail_first, require_columns, require_values
from quantgate.data.files.tables import ROW
from quantgate.data.files.textrows import (
    column_or_null,
    require_unique_ids,
    required_ids,
    text_rows,
)
from quantgate.data.files.timeparse import parse_utc_times

REQUIRED = ["id", "kind", "timestamp", "subreddit", "title", "text", "parent_id", "link_id"]
_KINDS = {"submission": "post", "comment": "comment"}
_PREFIX = {"post": "t3_", "comment": "t1_"}
_FULLNAME = r"^t\d_"


def layout_rows(table: pl.DataFrame, origin: str) -> pl.DataFrame:
    require_columns(table, REQUIRED, origin=origin, what="a reddit export")
    rows = table[ROW]
    raw_ids = required_ids(table, "id", origin=origin)
    raw_kinds = table["kind"].str.strip_chars().str.to_lowercase()
    fail_first(
        ~raw_kinds.is_in(list(_KINDS)).fill_null(value=False),
        rows,
        origin=origin,
        field="kind",
        problem=f"the kind is not one of {sorted(_KINDS)}",
        fix="write submission or comment",
        values=table["kind"],
    )
    kinds = raw_kinds.replace_strict(_KINDS, return_dtype=pl.String)
    is_comment = kinds == "comment"
    require_unique_ids(raw_ids, kinds, rows, origin=origin, field="id")
    ts = parse_utc_times(table["timestamp"], rows, origin=origin, field="timestamp")
    subreddits = table["subreddit"].str.strip_chars()
    require_values(subreddits, rows, origin=origin, field="subreddit")
    links = table["link_id"].str.strip_chars()
    parents = table["parent_id"].str.strip_chars()
    _require_fullnames(links, is_comment, rows, origin, "link_id", ("t3_",))
    _require_fullnames(parents, is_comment, rows, origin, "parent_id", ("t1_", "t3_"))
    ids = (
        pl.DataFrame({"id": raw_ids, "kind": kinds})
        .select(pl.col("kind").replace_strict(_PREFIX) + pl.col("id").str.replace(_FULLNAME, ""))
        .to_series()
    )
    frame = text_rows(
        **{ROW: rows},
        kind=kinds,
        id=ids,
        post_id=_only(links, is_comment),
        parent_id=_only(parents, is_comment),
        ts=ts,
        author=column_or_null(table, "author"),
        title=_only(table["title"].fill_null(""), ~is_comment),
        # Empty text is real (link posts have only a title): keep it as "", not null.
        body=table["text"].fill_null(""),
        names=_as_lists(subreddits),
    )
    return frame


def _as_lists(values: pl.Series) -> pl.Series:
    return values.to_frame("name").select(pl.concat_list("name")).to_series()


def _only(values: pl.Series, mask: pl.Series) -> pl.Series:
    return values.zip_with(mask, pl.Series([None] * values.len(), dtype=values.dtype))


def _require_fullnames(
    values: pl.Series,
    is_comment: pl.Series,
    rows: pl.Series,
    origin: str,
    field: str,
    prefixes: tuple[str, ...],
) -> None:
    valid = pl.Series([False] * values.len())
    for prefix in prefixes:
        valid = valid | values.str.starts_with(prefix).fill_null(value=False)
    fail_first(
        is_comment & ~valid,
        rows,
        origin=origin,
        field=field,
        problem=f"a comment's {field} is not a Reddit fullname ({' or '.join(prefixes)}…)",
        fix="export the fullname (for example t3_rewp12), not the bare id",
        values=values,
    )
