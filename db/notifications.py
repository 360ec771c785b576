"""Notifications stored per user."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.records import Notification

from .emails import to_active_users
from .pool import Conn, Executor

NOTIFICATION_COLUMNS = "id, user_id, kind, message, read, created_at, deal_id, quote_id"


def notification_from_row(row: asyncpg.Record) -> Notification:
    return Notification(**dict(row))


async def insert_notifications(
    conn: Conn,
    user_ids: Sequence[int],
    *,
    kind: str,
    message: str,
    deal_id: int | None = None,
    quote_id: int | None = None,
    email_body: str | None = None,
) -> list[Notification]:
    """One notification per user; with `email_body`, also an email to each active one (the
    message its subject) for the mailer to send after commit: both in one statement."""
    rows = await conn.fetch(
        f"""
        WITH mail AS ({to_active_users("CASE WHEN $6::text IS NOT NULL THEN $1::bigint[] END", "$3", "$6")})
        -- (no body: no user ids, no emails)
        INSERT INTO notifications (user_id, kind, message, deal_id, quote_id)
        SELECT unnest($1::bigint[]), $2, $3, $4, $5
        RETURNING {NOTIFICATION_COLUMNS}
        """,
        list(user_ids),
        kind,
        message,
        deal_id,
        quote_id,
        email_body,
    )
    return [notification_from_row(r) for r in rows]


async def list_notifications(
    conn: Executor,
    user_id: int,
    *,
    unread_only: bool,
    cursor: int | None,
    limit: int,
    backward: bool = False,
) -> list[Notification]:
    op, order = (">", "ASC") if backward else ("<", "DESC")
    rows = await conn.fetch(
        f"""
        SELECT {NOTIFICATION_COLUMNS} FROM notifications
         WHERE user_id = $1 AND (NOT $2 OR NOT read) AND ($3::bigint IS NULL OR id {op} $3)
         ORDER BY id {order} LIMIT $4
        """,  # noqa: S608
        user_id,
        unread_only,
        cursor,
        limit,
    )
    return [notification_from_row(r) for r in rows]


async def count_notifications(conn: Executor, user_id: int, *, unread_only: bool) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND (NOT $2 OR NOT read)",
        user_id,
        unread_only,
    )
    return value


async def mark_read(conn: Conn, user_id: int, ids: Sequence[int]) -> int:
    status = await conn.execute(
        "UPDATE notifications SET read = true WHERE user_id = $1 AND id = ANY($2) AND NOT read",
        user_id,
        list(ids),
    )
    return int(status.split()[-1])


async def get_notifications(conn: Executor, user_id: int, ids: Sequence[int]) -> list[Notification]:
    rows = await conn.fetch(
        f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND id = ANY($2)",  # noqa: S608
        user_id,
        list(ids),
    )
    return [notification_from_row(r) for r in rows]
