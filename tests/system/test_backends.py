"""Our broadcaster backends and the bus over real brokers: reconnect, resync, large events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from broadcaster import Broadcast
from broadcaster._backends.memory import MemoryBackend

from db import events as event_store
from db.pool import create_pool
from domain.events import NewEvent, StoredEvent
from subscriptions.backends import RESYNC, backend_for
from subscriptions.backends.postgres import MAX_PAYLOAD, notify_payload
from subscriptions.bus import EventBus, Listener, channel_for

from .cluster import RedisServer


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def bus_on(pool: asyncpg.Pool) -> AsyncIterator[object]:
    buses: list[EventBus] = []

    async def start(url: str) -> EventBus:
        bus = EventBus(Broadcast(backend=backend_for(url)), pool)
        await bus.start()
        buses.append(bus)
        return bus

    yield start
    for bus in buses:
        await bus.stop()


async def append(pool: asyncpg.Pool, payload: dict[str, object]) -> StoredEvent:
    async with pool.acquire() as conn, conn.transaction():
        await event_store.append(conn, [NewEvent(type="test", payload=payload)])
    last = await event_store.stamp(pool)  # as a relay does after a commit
    [event] = await event_store.read_after(pool, last - 1, limit=1)
    return event


async def received(listener: Listener, n: int, timeout: float = 10.0) -> list[int]:
    async with asyncio.timeout(timeout):
        return [(await listener.queue.get()).sequence for _ in range(n)]


async def test_a_bus_told_to_resync_delivers_from_the_table_what_it_missed(pool: asyncpg.Pool) -> None:
    bus = EventBus(Broadcast(backend=MemoryBackend("memory://")), pool)
    await bus.start()
    try:
        async with bus.listen() as listener:
            missed = [await append(pool, {"i": i}) for i in range(3)]  # committed, never published
            await bus.broadcast.publish(bus.channel, RESYNC)
            assert await received(listener, 3) == [e.sequence for e in missed]
    finally:
        await bus.stop()


async def test_a_malformed_message_does_not_stop_the_bus(pool: asyncpg.Pool) -> None:
    bus = EventBus(Broadcast(backend=MemoryBackend("memory://")), pool)
    await bus.start()
    try:
        async with bus.listen() as listener:
            event = await append(pool, {})
            await bus.broadcast.publish(bus.channel, "not json")
            await bus.broadcast.publish(bus.channel, json.dumps({"sequence": "x"}))
            await bus.publish([event])
            assert await received(listener, 1) == [event.sequence]
    finally:
        await bus.stop()


def test_an_event_too_large_for_notify_is_sent_as_a_reference() -> None:
    small = json.dumps({"sequence": 7, "payload": "x" * 100})
    large = json.dumps({"sequence": 8, "payload": "é" * 4000})  # 8,000 bytes of UTF-8
    assert notify_payload(small) == small
    assert json.loads(notify_payload(large)) == {"sequence": 8, "ref": True}
    assert len(notify_payload(large).encode()) < MAX_PAYLOAD


def test_each_database_gets_its_own_channel_within_postgres_identifier_length() -> None:
    assert channel_for("crm") == "dealflow.events.crm"
    assert channel_for("a") != channel_for("b")
    assert len(channel_for("x" * 63).encode()) <= 63


async def test_postgres_delivers_a_large_event_whole_and_listens_again_after_a_drop(
    pool: asyncpg.Pool, database: str, bus_on
) -> None:
    publisher, subscriber = await bus_on(database), await bus_on(database)
    async with subscriber.listen() as listener:
        large = await append(pool, {"notes": "x" * 20_000})
        await publisher.publish([large])
        got = await asyncio.wait_for(listener.queue.get(), 5)
        assert got == large  # read back from the table, whole
        dropped = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND datname = current_database()"
        )
        assert dropped == 2  # both buses' LISTEN connections
        after_drop = [await append(pool, {"i": i}) for i in range(3)]
        for event in after_drop:  # published while the listener may still be away: the table has them
            await publisher.publish([event])
        assert await received(listener, 3) == [e.sequence for e in after_drop]


async def test_redis_publish_fails_while_down_and_the_subscriber_catches_up_after_a_restart(
    pool: asyncpg.Pool, own_redis: RedisServer, bus_on
) -> None:
    publisher, subscriber = await bus_on(own_redis.url), await bus_on(own_redis.url)
    async with subscriber.listen() as listener:
        first = await append(pool, {})
        await publisher.publish([first])
        assert await received(listener, 1) == [first.sequence]
        own_redis.kill()
        missed = await append(pool, {})
        with pytest.raises(ConnectionError):
            await publisher.publish([missed])
        await own_redis.start()
        assert await received(listener, 1) == [missed.sequence]  # RESYNC after re-subscribing
        later = await append(pool, {})
        await publisher.publish([later])
        assert await received(listener, 1) == [later.sequence]


async def test_the_bus_fills_a_gap_from_the_table_once_and_drops_duplicates(pool: asyncpg.Pool) -> None:
    bus = EventBus(Broadcast(backend=MemoryBackend("memory://")), pool)
    await bus.start()
    try:
        async with bus.listen() as listener:
            events = [await append(pool, {"i": i}) for i in range(3)]
            await bus.publish([events[2], events[0], events[2]])  # 1 and 2 lost, 3 late and twice
            assert await received(listener, 3) == [e.sequence for e in events]
            later = await append(pool, {})
            await bus.publish([later])
            assert await received(listener, 1) == [later.sequence]
            assert listener.queue.empty()
    finally:
        await bus.stop()
