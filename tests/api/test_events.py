"""The outbox: events commit or vanish with their change and reach subscribers once, in order."""

from __future__ import annotations

import asyncio

import asyncpg

from db import events as event_store
from resolvers.notifications import notify
from tests.harness import Harness

NOTIFICATIONS = """
subscription($after: String) {
  notificationReceived(after: $after) { sequence type notification { id kind message read } }
}
"""


async def head(app: Harness) -> str:
    return str(await event_store.stamp(app.pool))


async def send(pool: asyncpg.Pool, user_id: int, message: str, app: Harness | None = None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await event_store.append(conn, await notify(conn, [user_id], kind="test", message=message))
    if app is not None:
        app.server.app.state.services.relay.wake()


async def test_an_event_rolled_back_with_its_transaction_is_never_delivered(app: Harness) -> None:
    user = await app.user()
    assert user.user_id is not None
    async with app.ws(user) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": await head(app)})

        class Abort(Exception):
            pass

        try:
            async with app.pool.acquire() as conn, conn.transaction():
                await event_store.append(
                    conn, await notify(conn, [user.user_id], kind="test", message="ghost")
                )
                raise Abort
        except Abort:
            pass
        await send(app.pool, user.user_id, "real", app)
        first = await ws.next()
        assert first["notificationReceived"]["notification"]["message"] == "real"
        assert await ws.nothing_within(0.3)
    assert await app.pool.fetchval("SELECT count(*) FROM events") == 1
    assert await app.pool.fetchval("SELECT count(*) FROM notifications WHERE message = 'ghost'") == 0


async def test_notification_received_streams_only_the_viewers_own_notifications(app: Harness) -> None:
    me, other = await app.user(), await app.user()
    assert me.user_id is not None and other.user_id is not None
    async with app.ws(me) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": await head(app)})
        await send(app.pool, other.user_id, "for someone else", app)
        await send(app.pool, me.user_id, "for me", app)
        got = await ws.next()
        assert got["notificationReceived"]["notification"]["message"] == "for me"
        assert await ws.nothing_within(0.3)


async def test_subscriber_reconnecting_with_after_gets_exactly_the_missed_events_in_order(
    app: Harness,
) -> None:
    user = await app.user()
    assert user.user_id is not None
    async with app.ws(user) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": await head(app)})
        await send(app.pool, user.user_id, "m1", app)
        seen = await ws.next()
    last = seen["notificationReceived"]["sequence"]
    for i in range(2, 7):  # committed while the subscriber is away
        await send(app.pool, user.user_id, f"m{i}", app)
    async with app.ws(user) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": last})
        replayed = [(await ws.next())["notificationReceived"] for _ in range(5)]
        await send(app.pool, user.user_id, "m7", app)
        live = (await ws.next())["notificationReceived"]
        assert await ws.nothing_within(0.3)
    messages = [e["notification"]["message"] for e in [*replayed, live]]
    assert messages == ["m2", "m3", "m4", "m5", "m6", "m7"]
    sequences = [int(e["sequence"]) for e in [*replayed, live]]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


async def test_events_committed_by_another_process_reach_subscribers_without_a_local_wake(
    app: Harness,
) -> None:
    user = await app.user()
    assert user.user_id is not None
    async with app.ws(user) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": await head(app)})
        await send(app.pool, user.user_id, "live now", app)
        assert (await ws.next())["notificationReceived"]["notification"]["message"] == "live now"
        started = asyncio.get_running_loop().time()
        await send(app.pool, user.user_id, "from elsewhere")  # no relay.wake() in this process:
        await event_store.stamp(
            app.pool
        )  # the other process's relay stamps, and the stamp's NOTIFY wakes ours
        got = await ws.next(timeout=3)
        assert got["notificationReceived"]["notification"]["message"] == "from elsewhere"
        assert asyncio.get_running_loop().time() - started < 0.9  # before the relay's 1 s poll


async def test_many_subscribers_each_get_every_event_once(app: Harness) -> None:
    user = await app.user()
    assert user.user_id is not None
    async with asyncio.TaskGroup() as group:
        start = await head(app)
        sockets = [group.create_task(_collect(app, user, 10, start)) for _ in range(20)]
        for i in range(10):
            await send(app.pool, user.user_id, f"n{i}", app)
    for task in sockets:
        assert task.result() == [f"n{i}" for i in range(10)]


async def _collect(app: Harness, user: object, n: int, after: str) -> list[str]:
    from tests.harness import Client

    assert isinstance(user, Client)
    async with app.ws(user) as ws:
        await ws.subscribe(NOTIFICATIONS, {"after": after})
        return [
            (await ws.next(timeout=10))["notificationReceived"]["notification"]["message"] for _ in range(n)
        ]
