"""The generic text layout: one row per post or comment.

Columns: `id`, `published_at` (UTC), `symbols` (comma-separated, or a JSON list;
communities and tickers are mapped too), optional `title`, `body`, `author`,
`kind` (`post` | `comment`, default post), and for comments `parent_id` and/or
`post_id`. A comment without `post_id` gets it by following its parents up to a
post in the same file.
"""

from __future__ import annotations

import polars as pl

from quantgate.core.errors import DataError
from quantgate.data.files.checks import fail_first, require_columns
from quantgate.data.files.tables import ROW
from quantgate.data.files.textrows import (
    blank_to_null,
    column_or_null,
    require_unique_ids,
    required_ids,
    text_rows,
)
from quantgate.data.files.timeparse import parse_utc_times

REQUIRED = ["id", "published_at", "symbols"]
KINDS = ("post", "comment")


def layout_rows(table: pl.DataFrame, origin: str) -> pl.DataFrame:
    require_columns(table, REQUIRED, origin=origin, what="a text file")
    rows = table[ROW]
    ids = required_ids(table, "id", origin=origin)
    ts = parse_utc_times(table["published_at"], rows, origin=origin, field="published_at")
    kinds = _kinds(table, origin)
    require_unique_ids(ids, kinds, rows, origin=origin, field="id")
    parents = blank_to_null(column_or_null(table, "parent_id"))
    given = blank_to_null(column_or_null(table, "post_id"))
    post_ids = _post_ids(ids, kinds, parents, given, rows, origin)
    # A top-level comment answers the post itself.
    parent_ids = (
        pl.DataFrame({"comment": kinds == "comment", "parent": parents, "post": post_ids})
        .select(pl.when("comment").then(pl.coalesce("parent", "post")))
        .to_series()
    )
    return text_rows(
        **{ROW: rows},
        kind=kinds,
        id=ids,
        post_id=post_ids,
        parent_id=parent_ids,
        ts=ts,
        author=column_or_null(table, "author"),
        title=column_or_null(table, "title").fill_null(""),
        body=column_or_null(table, "body").fill_null(""),
        names=_names(table["symbols"]),
    )


def _kinds(table: pl.DataFrame, origin: str) -> pl.Series:
    """`post` or `comment` per row; a row without a kind is a post unless it has a parent.

    A blank kind on a row that names a parent is ambiguous (a comment that lost its
    kind, or a post with a stray parent?), so it is refused rather than guessed.
    """
    if "kind" not in table.columns:
        return pl.Series("kind", ["post"] * table.height, dtype=pl.String)
    given = blank_to_null(table["kind"].cast(pl.String).str.to_lowercase())
    parented = (
        blank_to_null(column_or_null(table, "parent_id")).is_not_null()
        | blank_to_null(column_or_null(table, "post_id")).is_not_null()
    )
    kinds = given.zip_with(
        given.is_not_null() | parented, pl.repeat("post", table.height, eager=True)
    )
    fail_first(
        ~kinds.is_in(KINDS).fill_null(value=False),
        table[ROW],
        origin=origin,
        field="kind",
        problem=f"the kind is blank or not one of {KINDS}",
        fix="write post or comment",
        values=table["kind"],
    )
    return kinds


def _names(symbols: pl.Series) -> pl.Series:
    if isinstance(symbols.dtype, pl.List):
        return symbols.cast(pl.List(pl.String))
    # "BTC, ETH" or "BTC|ETH" or "BTC;ETH": all mean the same two names.
    return (
        symbols.cast(pl.String)
        .fill_null("")
        .str.replace_all(r"[|;]", ",")
        .str.split(",")
        .list.eval(pl.element().str.strip_chars())
        .list.filter(pl.element() != "")
    )


def _post_ids(
    ids: pl.Series,
    kinds: pl.Series,
    parents: pl.Series,
    given: pl.Series,
    rows: pl.Series,
    origin: str,
) -> pl.Series:
    """Each comment's post: the `post_id` given, else found by walking up its parents."""
    id_list, kind_list = ids.to_list(), kinds.to_list()
    posts = {i for i, k in zip(id_list, kind_list, strict=True) if k == "post"}
    parent_of: dict[str, str | None] = {}
    known: dict[str, str] = {}
    for comment_id, kind, parent, post in zip(
        id_list, kind_list, parents.to_list(), given.to_list(), strict=True
    ):
        if kind == "comment":
            parent_of[comment_id] = parent
            if post is not None:
                known[comment_id] = post
    result: list[str | None] = []
    for index, (comment_id, kind) in enumerate(zip(id_list, kind_list, strict=True)):
        if kind != "comment":
            result.append(None)
            continue
        post_id = _walk(comment_id, posts, parent_of, known)
        if post_id is None:
            parent = parent_of.get(comment_id)
            raise DataError(
                "cannot tell which post the comment belongs to: "
                + (
                    f"its parent {parent!r} is not a post or comment in this file"
                    if parent
                    else "it has neither parent_id nor post_id"
                ),
                source=origin,
                row=int(rows[index]),
                field="parent_id",
                fix="add a post_id column, or include the parent rows in the same file",
            )
        result.append(post_id)
    return pl.Series("post_id", result, dtype=pl.String)


def _walk(
    start: str, posts: set[str], parent_of: dict[str, str | None], known: dict[str, str]
) -> str | None:
    """Follow parents from comment `start` to a post; remembers every answer on the way."""
    chain: list[str] = []
    visited: set[str] = set()
    current = start
    answer: str | None = None
    while current not in visited:  # a parent cycle ends the walk unresolved
        if current in known:
            answer = known[current]
            break
        visited.add(current)
        chain.append(current)
        parent = parent_of.get(current)
        if parent is None:
            break
        if parent in posts:
            answer = parent
            break
        if parent not in parent_of:
            break
        current = parent
    if answer is not None:
        for comment in chain:
            known[comment] = answer
    return answer
