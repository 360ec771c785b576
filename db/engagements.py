"""Engagements (notes, tasks, calls, emails, meetings) and the records they are associated with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

from domain.records import ObjectType

from .errors import NotFound
from .pool import Conn, Executor
from .records import TABLES


class EngagementType(StrEnum):
    NOTE = "NOTE"
    TASK = "TASK"
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"


@dataclass(frozen=True, slots=True)
class Engagement:
    id: int
    type: EngagementType
    title: str | None
    body: str | None
    email_address: str | None
    assignee_id: int | None
    done: bool
    created_by: int | None
    created_at: datetime


RecordRef = tuple[ObjectType, int]

ENGAGEMENT_COLUMNS = (
    "e.id, e.type, e.title, e.body, e.email_address, e.assignee_id, e.done, e.created_by, e.created_at"
)


def engagement_from_row(row: asyncpg.Record) -> Engagement:
    return Engagement(**{**dict(row), "type": EngagementType(row["type"])})


async def lock_records(
    conn: Conn, object_type: ObjectType, ids: Sequence[int], owners: frozenset[int] | None
) -> dict[int, int | None]:
    """Lock the records among `ids` whose owner is in `owners` (None: any); their owners by id."""
    rows = await conn.fetch(
        f"""
        SELECT r.id, r.owner_id FROM {TABLES[object_type].name} r
         WHERE r.id = ANY($1) AND r.deleted_at IS NULL AND ($2::bigint[] IS NULL OR r.owner_id = ANY($2))
         ORDER BY r.id
           FOR UPDATE
        """,  # noqa: S608 (names from TABLES)
        sorted(ids),
        None if owners is None else sorted(owners),
    )
    return {r["id"]: r["owner_id"] for r in rows}


async def count_engagements(conn: Executor, refs: Sequence[RecordRef], up_to: int) -> dict[RecordRef, int]:
    rows = await conn.fetch(
        """
        SELECT k.object_type, k.object_id,
               (SELECT count(*) FROM (
                    SELECT 1 FROM engagement_records er
                     WHERE er.object_type = k.object_type AND er.object_id = k.object_id
                     LIMIT $3) capped) AS n
          FROM unnest($1::text[], $2::bigint[]) AS k (object_type, object_id)
        """,
        [t.value for t, _ in refs],
        [i for _, i in refs],
        up_to,
    )
    return {(ObjectType(r["object_type"]), r["object_id"]): r["n"] for r in rows}


async def insert_engagement(
    conn: Conn,
    *,
    type: EngagementType,
    title: str | None,
    body: str | None,
    email_address: str | None,
    assignee_id: int | None,
    created_by: int,
    refs: Sequence[RecordRef],
) -> Engagement:
    row = await conn.fetchrow(
        f"""
        WITH e AS (
            INSERT INTO engagements AS e (type, title, body, email_address, assignee_id, created_by)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING {ENGAGEMENT_COLUMNS}
        ), linked AS (
            INSERT INTO engagement_records (engagement_id, object_type, object_id)
            SELECT e.id, k.object_type, k.object_id FROM e, unnest($7::text[], $8::bigint[]) AS k (object_type, object_id)
        )
        SELECT * FROM e
        """,  # noqa: S608 (columns from a constant)
        type.value,
        title,
        body,
        email_address,
        assignee_id,
        created_by,
        [t.value for t, _ in refs],
        [i for _, i in refs],
    )
    assert row is not None
    return engagement_from_row(row)


# One data-modifying CTE per table: $1 says whether contact was made, $2.. are each table's ids.
TOUCH_SQL = "WITH {} SELECT 1".format(
    ", ".join(
        f"""{t.value.lower()} AS (
            UPDATE {TABLES[t].name} SET last_activity_date = now(),
                   last_contacted = CASE WHEN $1 THEN now() ELSE last_contacted END
             WHERE id = ANY(${n}::bigint[]))"""  # noqa: S608 (names from TABLES)
        for n, t in enumerate(ObjectType, start=2)
    )
)


async def touch_records(conn: Conn, ids: Mapping[ObjectType, Sequence[int]], *, contacted: bool) -> None:
    await conn.execute(TOUCH_SQL, contacted, *(list(ids.get(t, ())) for t in ObjectType))


# An email found by its address is shown only to viewers whose scope ($5 owners, NULL: all) covers
# the user who logged it or a record it was logged on (DESIGN 3).
EMAIL_IN_SCOPE = " OR ".join(
    [
        "$5::bigint[] IS NULL",
        "m.created_by = ANY($5)",
        *(
            f"""EXISTS (SELECT 1 FROM engagement_records x JOIN {TABLES[t].name} r ON r.id = x.object_id
                 WHERE x.engagement_id = m.id AND x.object_type = '{t.value}'
                   AND r.deleted_at IS NULL AND r.owner_id = ANY($5))"""  # noqa: S608 (names from TABLES)
            for t in ObjectType
        ),
    ]
)


async def list_record_engagements(
    conn: Executor,
    object_type: ObjectType,
    record_id: int,
    email: str | None,
    limit: int,
    owners: frozenset[int] | None,
) -> list[Engagement]:
    rows = await conn.fetch(
        f"""
        SELECT {ENGAGEMENT_COLUMNS} FROM engagements e
         WHERE e.id IN (
                SELECT er.engagement_id FROM engagement_records er
                 WHERE er.object_type = $1 AND er.object_id = $2
                UNION
                SELECT m.id FROM engagements m
                 WHERE $3::text IS NOT NULL AND m.email_address IS NOT NULL
                   AND lower(m.email_address) = lower($3) AND m.type = 'EMAIL'
                   AND ({EMAIL_IN_SCOPE}))
         ORDER BY e.id DESC
         LIMIT $4
        """,  # noqa: S608 (columns and scope from constants)
        object_type.value,
        record_id,
        email,
        limit,
        None if owners is None else sorted(owners),
    )
    return [engagement_from_row(r) for r in rows]


async def list_tasks(
    conn: Executor, assignee_id: int, *, cursor: int | None, limit: int, backward: bool = False
) -> list[Engagement]:
    op, order = (">", "ASC") if backward else ("<", "DESC")
    rows = await conn.fetch(
        f"""
        SELECT {ENGAGEMENT_COLUMNS} FROM engagements e
         WHERE e.type = 'TASK' AND e.assignee_id = $1 AND ($2::bigint IS NULL OR e.id {op} $2)
         ORDER BY e.id {order}
         LIMIT $3
        """,  # noqa: S608 (columns and direction from constants)
        assignee_id,
        cursor,
        limit,
    )
    return [engagement_from_row(r) for r in rows]


async def count_tasks(conn: Executor, assignee_id: int) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM engagements WHERE type = 'TASK' AND assignee_id = $1", assignee_id
    )
    return value


async def lock_task(conn: Conn, task_id: int) -> Engagement:
    row = await conn.fetchrow(
        f"SELECT {ENGAGEMENT_COLUMNS} FROM engagements e WHERE e.id = $1 AND e.type = 'TASK' FOR UPDATE",  # noqa: S608
        task_id,
    )
    if row is None:
        raise NotFound("task", task_id)
    return engagement_from_row(row)


async def update_task_done(conn: Conn, task_id: int, done: bool) -> Engagement:
    row = await conn.fetchrow(
        f"UPDATE engagements e SET done = $2 WHERE e.id = $1 RETURNING {ENGAGEMENT_COLUMNS}",  # noqa: S608
        task_id,
        done,
    )
    if row is None:
        raise NotFound("task", task_id)
    return engagement_from_row(row)


async def get_engagements(conn: Executor, ids: Sequence[int]) -> list[Engagement]:
    rows = await conn.fetch(
        f"SELECT {ENGAGEMENT_COLUMNS} FROM engagements e WHERE e.id = ANY($1)",  # noqa: S608
        list(ids),
    )
    return [engagement_from_row(r) for r in rows]


async def list_logged_on(conn: Executor, ids: Sequence[int]) -> list[tuple[int, ObjectType, int]]:
    rows = await conn.fetch(
        "SELECT engagement_id, object_type, object_id FROM engagement_records WHERE engagement_id = ANY($1)",
        list(ids),
    )
    return [(r["engagement_id"], ObjectType(r["object_type"]), r["object_id"]) for r in rows]
