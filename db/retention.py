"""Pruning past each horizon, in small batches: outbox events, webhook deliveries, read
notifications and sent emails."""

from __future__ import annotations

from .pool import Executor

# Another process is pruning the outbox when this transaction-level advisory lock is taken.
PRUNE_LOCK = 7_362_010_011


async def prune_events(conn: Executor, horizon_seconds: float, batch: int) -> int:
    """Delete the oldest events older than the horizon, never past an active webhook's cursor,
    and record how far in the same statement, so a replay can tell what is gone."""
    deleted: int = await conn.fetchval(
        """
        WITH locked AS (SELECT pg_try_advisory_xact_lock($3) AS ok),
        oldest AS (
            SELECT e.sequence, e.created_at FROM events e, locked
             WHERE locked.ok AND e.sequence > 0 ORDER BY e.sequence LIMIT $2),  -- stamped ones only
        bound AS (
            SELECT max(o.sequence) AS upto FROM oldest o
             WHERE o.created_at < now() - make_interval(secs => $1)
               AND o.sequence <= (SELECT coalesce(min(cursor), 9223372036854775807) FROM webhooks WHERE active)),
        gone AS (
            DELETE FROM events WHERE sequence <= (SELECT upto FROM bound)
               AND sequence IN (SELECT sequence FROM oldest)
            RETURNING sequence),
        moved AS (
            UPDATE outbox_pruned SET through = greatest(through, (SELECT max(sequence) FROM gone))
             WHERE EXISTS (SELECT 1 FROM gone) RETURNING through)
        SELECT count(*) FROM gone, (SELECT count(*) FROM moved) AS m
        """,
        horizon_seconds,
        batch,
        PRUNE_LOCK,
    )
    return deleted


async def prune_deliveries(conn: Executor, horizon_seconds: float, batch: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM webhook_deliveries WHERE id IN (
            SELECT id FROM webhook_deliveries
             WHERE status = 'DELIVERED' AND last_attempt_at < now() - make_interval(secs => $1)
             LIMIT $2)
        """,
        horizon_seconds,
        batch,
    )
    return int(status.split()[-1])


async def prune_read_notifications(conn: Executor, horizon_seconds: float, batch: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM notifications WHERE id IN (
            SELECT id FROM notifications WHERE read AND created_at < now() - make_interval(secs => $1)
             LIMIT $2)
        """,
        horizon_seconds,
        batch,
    )
    return int(status.split()[-1])


async def prune_sent_emails(conn: Executor, horizon_seconds: float, batch: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM email_outbox WHERE id IN (
            SELECT id FROM email_outbox WHERE sent_at < now() - make_interval(secs => $1) LIMIT $2)
        """,
        horizon_seconds,
        batch,
    )
    return int(status.split()[-1])
