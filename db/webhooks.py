"""Webhook endpoints, their delivery cursors and leases, and their deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.events import StoredEvent

from .events import EVENT_COLUMNS, event_from_row
from .pool import Conn, Executor

WEBHOOK_COLUMNS = "id, url, event_types, secret, active, failing, cursor, created_at"
DELIVERY_COLUMNS = (
    "id, webhook_id, sequence, event_type, status, attempts, first_attempt_at, last_attempt_at,"
    " last_response_code, last_error, next_attempt_at"
)


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    event_types: tuple[str, ...]
    secret: str
    active: bool
    failing: bool
    cursor: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    sequence: int
    event_type: str
    status: str
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime | None
    last_response_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None


def webhook_from_row(row: asyncpg.Record) -> Webhook:
    return Webhook(**{**dict(row), "event_types": tuple(row["event_types"])})


async def insert_webhook(
    conn: Conn, *, url: str, event_types: Sequence[str], secret: str, created_by: int
) -> Webhook:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhooks (url, event_types, secret, created_by, cursor)
        SELECT $1, $2, $3, $4, sequence FROM event_head
        RETURNING {WEBHOOK_COLUMNS}
        """,  # noqa: S608
        url,
        list(event_types),
        secret,
        created_by,
    )
    assert row is not None
    return webhook_from_row(row)


async def get_webhook(conn: Executor, webhook_id: int) -> Webhook | None:
    row = await conn.fetchrow(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)  # noqa: S608
    return webhook_from_row(row) if row else None


async def list_webhooks(conn: Executor) -> list[Webhook]:
    rows = await conn.fetch(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")  # noqa: S608
    return [webhook_from_row(r) for r in rows]


async def update_webhook(
    conn: Conn, webhook_id: int, *, url: str | None, event_types: Sequence[str] | None, active: bool | None
) -> Webhook | None:
    """Re-enabling (active: true) clears `failing` and sends at once."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhooks SET url = coalesce($2, url), event_types = coalesce($3, event_types),
               active = coalesce($4, active),
               failing = CASE WHEN $4 THEN false ELSE failing END,
               next_attempt_at = CASE WHEN $4 THEN now() ELSE next_attempt_at END
         WHERE id = $1
        RETURNING {WEBHOOK_COLUMNS}
        """,  # noqa: S608
        webhook_id,
        url,
        list(event_types) if event_types is not None else None,
        active,
    )
    return webhook_from_row(row) if row else None


async def replay_webhook(conn: Conn, webhook_id: int, after: int) -> Webhook | None:
    """Move the cursor; a sender mid-delivery keeps its lease until its next write finds the cursor
    moved, then frees it, so even then one sender at a time sends to the endpoint."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhooks SET cursor = $2, failing = false, active = true, next_attempt_at = now()
         WHERE id = $1
        RETURNING {WEBHOOK_COLUMNS}
        """,  # noqa: S608
        webhook_id,
        after,
    )
    return webhook_from_row(row) if row else None


# NOTIFYed on the commit of every statement that adds, removes, activates or deactivates an
# endpoint (migration 0019).
CHANGES_CHANNEL = "dealflow_webhooks"


async def any_active(conn: Executor) -> bool:
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM webhooks WHERE active)")
    return found


async def claim_due(
    conn: Executor, *, limit: int, token: uuid.UUID, pid: int, lease_seconds: float, serving: Sequence[int]
) -> list[Webhook]:
    """Lease due endpoints with work to do. A lease is free once it expires or its holder's session
    has ended (a process killed mid-delivery), so another process resumes at the cursor."""
    rows = await conn.fetch(
        f"""
        UPDATE webhooks SET lease_token = $1, lease_pid = $2, lease_until = now() + make_interval(secs => $3)
         WHERE id IN (
               SELECT w.id FROM webhooks w
                WHERE w.active AND NOT w.failing AND w.next_attempt_at <= now()
                  AND w.cursor < (SELECT sequence FROM event_head)
                  AND NOT w.id = ANY($5::bigint[])
                  AND (w.lease_until IS NULL OR w.lease_until < now()
                       OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.lease_pid))
                ORDER BY w.next_attempt_at, w.id LIMIT $4
                  FOR UPDATE SKIP LOCKED)
        RETURNING {WEBHOOK_COLUMNS}
        """,  # noqa: S608
        token,
        pid,
        lease_seconds,
        limit,
        list(serving),
    )
    return [webhook_from_row(r) for r in rows]


async def release(conn: Executor, webhook_id: int, token: uuid.UUID, *, retry_at_seconds: float = 0) -> None:
    await conn.execute(
        """
        UPDATE webhooks SET lease_token = NULL, lease_pid = NULL, lease_until = NULL,
               next_attempt_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND lease_token = $2
        """,
        webhook_id,
        token,
        retry_at_seconds,
    )


async def advance(
    conn: Executor, webhook_id: int, token: uuid.UUID, cursor: int, through: int, lease_seconds: float
) -> bool:
    """Move the cursor from `cursor` past `through` and renew the lease; False when the lease is no
    longer ours or the cursor was moved (a replay)."""
    status = await conn.execute(
        """
        UPDATE webhooks SET cursor = greatest(cursor, $3), lease_until = now() + make_interval(secs => $4)
         WHERE id = $1 AND lease_token = $2 AND cursor = $5
        """,
        webhook_id,
        token,
        through,
        lease_seconds,
        cursor,
    )
    return status.endswith(" 1")


async def pending_events(
    conn: Executor, after: int, patterns: Sequence[str], *, limit: int
) -> tuple[list[tuple[StoredEvent, datetime]], int]:
    """The matching events after `after` (with their commit time), and the head they were read under:
    when fewer than `limit` come back, nothing else up to that head matches."""
    head: int = await conn.fetchval("SELECT sequence FROM event_head")
    rows = await conn.fetch(
        f"""
        SELECT {EVENT_COLUMNS}, created_at FROM events
         WHERE sequence > $1 AND sequence <= $2 AND type LIKE ANY($3::text[])
         ORDER BY sequence LIMIT $4
        """,  # noqa: S608
        after,
        head,
        list(patterns),
        limit,
    )
    return [(event_from_row(r), r["created_at"]) for r in rows], head


async def record_delivered(
    conn: Executor,
    webhook_id: int,
    token: uuid.UUID,
    cursor: int,
    sequences: Sequence[int],
    types: Sequence[str],
    codes: Sequence[int],
    lease_seconds: float,
) -> bool:
    """One round trip: move the cursor from `cursor` past delivered events and record them. False
    when the lease was lost or the cursor moved (a replay): nothing is written."""
    held: bool = await conn.fetchval(
        """
        WITH moved AS (
            UPDATE webhooks SET cursor = greatest(cursor, $3), lease_until = now() + make_interval(secs => $7)
             WHERE id = $1 AND lease_token = $2 AND cursor = $8 RETURNING id),
        recorded AS (
            INSERT INTO webhook_deliveries AS d (webhook_id, sequence, event_type, status, attempts,
                   last_attempt_at, last_response_code)
            SELECT moved.id, x.s, x.t, 'DELIVERED', 1, now(), x.c
              FROM moved, unnest($4::bigint[], $5::text[], $6::int[]) AS x (s, t, c)
            ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO UPDATE
               SET status = 'DELIVERED', attempts = d.attempts + 1, last_attempt_at = now(),
                   last_response_code = EXCLUDED.last_response_code, last_error = NULL, next_attempt_at = NULL
            RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM moved)
        """,
        webhook_id,
        token,
        max(sequences),
        list(sequences),
        list(types),
        list(codes),
        lease_seconds,
        cursor,
    )
    return held


async def record_attempt(
    conn: Conn,
    webhook_id: int,
    event: StoredEvent,
    *,
    status: str,
    response_code: int | None,
    error: str | None,
) -> Delivery:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_deliveries AS d (webhook_id, sequence, event_type, status, attempts,
               last_attempt_at, last_response_code, last_error)
        VALUES ($1, $2, $3, $4, 1, now(), $5, $6)
        ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO UPDATE
           SET status = EXCLUDED.status, attempts = d.attempts + 1, last_attempt_at = now(),
               last_response_code = EXCLUDED.last_response_code, last_error = EXCLUDED.last_error,
               next_attempt_at = NULL,
               first_attempt_at = CASE WHEN d.status = 'PENDING' THEN d.first_attempt_at ELSE now() END
        RETURNING {DELIVERY_COLUMNS}
        """,  # noqa: S608
        webhook_id,
        event.sequence,
        event.type,
        status,
        response_code,
        error[:1000] if error else None,
    )
    assert row is not None
    return Delivery(**dict(row))


async def schedule_retry(
    conn: Conn, delivery_id: int, *, status: str, retry_in_seconds: float | None
) -> None:
    await conn.execute(
        """
        UPDATE webhook_deliveries SET status = $2,
               next_attempt_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3) END
         WHERE id = $1
        """,
        delivery_id,
        status,
        retry_in_seconds,
    )


async def mark_failing(conn: Conn, webhook_id: int, token: uuid.UUID) -> bool:
    status = await conn.execute(
        """
        UPDATE webhooks SET failing = true, lease_token = NULL, lease_pid = NULL, lease_until = NULL
         WHERE id = $1 AND lease_token = $2
        """,
        webhook_id,
        token,
    )
    return status.endswith(" 1")


async def list_deliveries(
    conn: Executor, webhook_id: int, *, cursor: int | None, limit: int, backward: bool = False
) -> list[Delivery]:
    op, order = (">", "ASC") if backward else ("<", "DESC")
    rows = await conn.fetch(
        f"""
        SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE webhook_id = $1 AND ($2::bigint IS NULL OR sequence {op} $2)
         ORDER BY sequence {order} LIMIT $3
        """,  # noqa: S608
        webhook_id,
        cursor,
        limit,
    )
    return [Delivery(**dict(r)) for r in rows]


async def count_deliveries(conn: Executor, webhook_id: int) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1", webhook_id
    )
    return value


async def list_super_admin_ids(conn: Executor) -> list[int]:
    rows = await conn.fetch("SELECT id FROM users WHERE is_super_admin AND active ORDER BY id")
    return [r["id"] for r in rows]
