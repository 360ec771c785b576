"""Search over names, emails, domains and subjects: trigram indexes, one round trip for every type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.records import ObjectType, Record

from .pool import Executor
from .records import COMMON, TABLES, awaiting_approver_sql, record_from_named_row

# The exact expressions the *_search GIN indexes of 0002_records.sql are built on.
SEARCHED: Mapping[ObjectType, str] = {
    ObjectType.CONTACT: "(coalesce(r.first_name, '') || ' ' || coalesce(r.last_name, '') || ' ' || coalesce(r.email, ''))",
    ObjectType.COMPANY: "(coalesce(r.name, '') || ' ' || coalesce(r.domain, ''))",
    ObjectType.DEAL: "r.name",
    ObjectType.TICKET: "r.subject",
}


# Every type's columns; a branch without one selects a NULL of that column's type.
COLUMNS: Mapping[str, str] = {c: t.name for t in TABLES.values() for c in t.columns}


def _column(object_type: ObjectType, column: str) -> str:
    if column in TABLES[object_type].columns:
        return f"r.{column}"
    return f"(NULL::{COLUMNS[column]}).{column}"


def _branch(object_type: ObjectType) -> str:
    expr = SEARCHED[object_type]
    # A deal awaiting the viewer ($6) as its approver is found like the deal itself (DESIGN 2).
    approver = (
        f" OR ($6::bigint IS NOT NULL AND {awaiting_approver_sql(6)})"
        if object_type is ObjectType.DEAL
        else ""
    )
    columns = ", ".join(_column(object_type, c) for c in COLUMNS)
    return f"""
    (SELECT '{object_type.value}' AS type, word_similarity($1, {expr}) AS rank,
            {", ".join(f"r.{c}" for c in COMMON)}, {columns}
       FROM {TABLES[object_type].name} r
      WHERE '{object_type.value}' = ANY($4::text[])
        AND {expr} ILIKE $2
        AND r.deleted_at IS NULL
        AND ($3::bigint[] IS NULL OR r.owner_id = ANY($3){approver})
      ORDER BY rank DESC, r.id DESC
      LIMIT $5)"""  # noqa: S608 (names and expressions from constants)


SEARCH_SQL = " UNION ALL ".join(_branch(t) for t in SEARCHED) + "\n ORDER BY rank DESC, type, id DESC"


def like_pattern(text: str) -> str:
    """A pattern matching text anywhere, with LIKE's own characters taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_records(
    conn: Executor,
    text: str,
    types: Sequence[ObjectType],
    owners: frozenset[int] | None,
    limit: int,
    viewer_id: int | None = None,
) -> list[Record]:
    rows = await conn.fetch(
        SEARCH_SQL,
        text,
        like_pattern(text),
        None if owners is None else sorted(owners),
        [t.value for t in types],
        limit,
        viewer_id,
    )
    found = []
    for row in rows:
        object_type = ObjectType(row["type"])
        found.append(record_from_named_row(object_type, row))
    return found
