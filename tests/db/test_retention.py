"""Pruning past each horizon: read notifications and sent emails go, unread and unsent ones stay."""

from __future__ import annotations

import asyncpg

from db import retention
from db import users as user_store

DAY = 86_400.0


async def a_user(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn, conn.transaction():
        user = await user_store.insert_user(conn, email="r@example.com", name="R")
    return user.id


async def test_only_read_notifications_past_their_horizon_are_pruned(pool: asyncpg.Pool) -> None:
    user_id = await a_user(pool)
    await pool.execute(
        """
        INSERT INTO notifications (user_id, kind, message, read, created_at) VALUES
          ($1, 'K', 'old read', true, now() - interval '100 days'),
          ($1, 'K', 'old unread', false, now() - interval '100 days'),
          ($1, 'K', 'new read', true, now() - interval '1 day')
        """,
        user_id,
    )
    assert await retention.prune_read_notifications(pool, 90 * DAY, 500) == 1
    kept = await pool.fetch("SELECT message FROM notifications ORDER BY id")
    assert [r["message"] for r in kept] == ["old unread", "new read"]


async def test_only_sent_emails_past_their_horizon_are_pruned(pool: asyncpg.Pool) -> None:
    user_id = await a_user(pool)
    await pool.execute(
        """
        INSERT INTO email_outbox (user_id, to_address, subject, body, sent_at) VALUES
          ($1, 'r@example.com', 'old sent', '', now() - interval '40 days'),
          ($1, 'r@example.com', 'old unsent', '', NULL),
          ($1, 'r@example.com', 'new sent', '', now() - interval '1 day')
        """,
        user_id,
    )
    assert await retention.prune_sent_emails(pool, 30 * DAY, 500) == 1
    kept = await pool.fetch("SELECT subject FROM email_outbox ORDER BY id")
    assert [r["subject"] for r in kept] == ["old unsent", "new sent"]


async def test_events_are_pruned_in_batches_from_the_oldest_and_the_horizon_recorded(
    pool: asyncpg.Pool,
) -> None:
    await pool.execute(
        """
        UPDATE event_head SET sequence = 10;
        INSERT INTO events (sequence, type, payload, created_at)
        SELECT g, 't', '{}', now() - interval '40 days' FROM generate_series(1, 8) g;
        INSERT INTO events (sequence, type, payload) VALUES (9, 't', '{}'), (10, 't', '{}');
        """
    )
    assert await retention.prune_events(pool, 30 * DAY, 5) == 5
    assert await pool.fetchval("SELECT through FROM outbox_pruned") == 5
    assert await retention.prune_events(pool, 30 * DAY, 5) == 3
    assert await retention.prune_events(pool, 30 * DAY, 5) == 0
    assert await pool.fetchval("SELECT through FROM outbox_pruned") == 8
    assert [r["sequence"] for r in await pool.fetch("SELECT sequence FROM events ORDER BY 1")] == [9, 10]
