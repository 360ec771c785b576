"""Notifications: read/unread per user; the email outbox is sent once, retried with backoff."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from db import emails as email_store
from db.users import insert_user
from resolvers.mailer import Mailer
from resolvers.notifications import send_notification
from tests.harness import Harness

LIST = (
    "query($u: Boolean) { notifications(unreadOnly: $u) { totalCount edges { node { id message read } } } }"
)


async def test_notifications_are_stored_per_user_and_marked_read(app: Harness) -> None:
    me, other = await app.user(), await app.user()
    assert me.user_id is not None
    assert other.user_id is not None
    ctx = _context(app)
    await send_notification(ctx, [me.user_id], kind="test", message="one")
    await send_notification(ctx, [me.user_id], kind="test", message="two")
    await send_notification(ctx, [other.user_id], kind="test", message="not mine")
    unread = (await me(LIST, {"u": True}))["notifications"]
    assert unread["totalCount"] == 2
    first = unread["edges"][0]["node"]["id"]
    theirs = (await other(LIST, {"u": True}))["notifications"]["edges"][0]["node"]["id"]
    marked = await me(
        "mutation($ids: [ID!]!) { markNotificationsRead(input: {ids: $ids}) { count } }",
        {"ids": [first, theirs]},
    )
    assert marked["markNotificationsRead"]["count"] == 1  # another user's notification is not touched
    assert (await me(LIST, {"u": True}))["notifications"]["totalCount"] == 1
    assert (await other(LIST, {"u": True}))["notifications"]["totalCount"] == 1


def _context(app: Harness) -> Any:
    from resolvers.context import Context

    return Context(services=app.server.app.state.services)


async def new_user(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        user = await insert_user(conn, email="mail@example.com", name="Mail")
    return user.id


async def test_each_email_is_sent_once_even_with_two_senders(pool: asyncpg.Pool) -> None:
    user_id = await new_user(pool)
    async with pool.acquire() as conn, conn.transaction():
        for i in range(30):
            await email_store.insert_emails(conn, [user_id], subject=f"s{i}", body="b")
    first, second = Mailer(pool, None), Mailer(pool, None)
    await asyncio.gather(first.drain_once(), second.drain_once(), first.drain_once(), second.drain_once())
    sent = [s for _, s in first.sent_to_log + second.sent_to_log]
    assert sorted(sent) == sorted(f"s{i}" for i in range(30))
    assert await pool.fetchval("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL") == 0
