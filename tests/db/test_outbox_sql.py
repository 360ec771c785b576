"""The outbox's ordering (migration 0016): appends take no lock; committed events get gap-free
sequences when stamped, in append order, and a reader never sees an event before it has one."""

from __future__ import annotations

import asyncio

import asyncpg

from db import events as event_store
from db import retention
from domain.events import NewEvent

DAY = 86_400.0


def event(i: int, n: int = 0) -> NewEvent:
    return NewEvent(type="test", payload={"i": i, "n": n})


async def committed(pool: asyncpg.Pool, *events: NewEvent) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await event_store.append(conn, events)


async def test_an_appended_event_is_invisible_to_readers_until_stamped(pool: asyncpg.Pool) -> None:
    await committed(pool, event(1))
    assert await event_store.read_after(pool, 0) == []
    assert await event_store.head(pool) == 0
    assert await event_store.stamp(pool) == 1
    [stored] = await event_store.read_after(pool, 0)
    assert (stored.sequence, stored.payload) == (1, {"i": 1, "n": 0})
    assert await event_store.head(pool) == 1
    assert await event_store.stamp(pool) == 1  # nothing new: the head stays


async def test_stamp_and_read_is_a_stamp_then_a_read_after_the_cursor_in_one_round_trip(
    pool: asyncpg.Pool,
) -> None:
    assert await event_store.stamp_and_read(pool, 0, limit=10) == ([], 0)
    await committed(pool, event(1), event(2), event(3))
    found, head = await event_store.stamp_and_read(pool, 1, limit=10)
    assert ([e.sequence for e in found], head) == ([2, 3], 3)
    assert found == await event_store.read_after(pool, 1)  # the same events, decoded alike
    await committed(pool, event(4))
    found, head = await event_store.stamp_and_read(pool, 0, limit=2)
    assert ([e.sequence for e in found], head) == ([1, 2], 4)  # a full batch; the head says there is more
    assert await event_store.stamp_and_read(pool, 4, limit=2) == ([], 4)


async def test_concurrent_appends_and_stamps_give_gap_free_sequences_each_transaction_in_order(
    pool: asyncpg.Pool,
) -> None:
    async def append_two(i: int) -> None:
        await committed(pool, event(i, 0), event(i, 1))

    async def stamp_often() -> None:
        for _ in range(10):
            await event_store.stamp(pool)
            await asyncio.sleep(0.002)

    await asyncio.gather(*(append_two(i) for i in range(40)), stamp_often(), stamp_often())
    assert await event_store.stamp(pool) == 80
    stored = await event_store.read_after(pool, 0, limit=1000)
    assert [e.sequence for e in stored] == list(range(1, 81))
    position = {(e.payload["i"], e.payload["n"]): e.sequence for e in stored}
    assert all(position[i, 0] < position[i, 1] for i in range(40))
    assert await pool.fetchval("SELECT count(*) FROM events WHERE sequence < 0") == 0


async def test_a_stamp_leaves_a_transaction_in_flight_to_the_next_stamp(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as slow:
        transaction = slow.transaction()
        await transaction.start()
        await event_store.append(slow, [event(1)])  # appended first, committed last
        await committed(pool, event(2))
        assert await event_store.stamp(pool) == 1
        await transaction.commit()
    assert await event_store.stamp(pool) == 2
    stored = await event_store.read_after(pool, 0)
    assert [(e.sequence, e.payload["i"]) for e in stored] == [(1, 2), (2, 1)]


async def test_a_rolled_back_append_leaves_no_event_and_no_gap(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await event_store.append(conn, [event(1)])
        await transaction.rollback()
    await committed(pool, event(2))
    assert await event_store.stamp(pool) == 1
    assert [e.payload["i"] for e in await event_store.read_after(pool, 0)] == [2]


async def test_pruning_never_takes_an_event_that_is_not_stamped_yet(pool: asyncpg.Pool) -> None:
    await committed(pool, event(1))
    await pool.execute("UPDATE events SET created_at = now() - interval '40 days'")
    assert await retention.prune_events(pool, 30 * DAY, 10) == 0
    assert await event_store.stamp(pool) == 1
    assert await retention.prune_events(pool, 30 * DAY, 10) == 1


async def test_a_stamp_reads_the_pending_events_by_index_never_the_whole_outbox(pool: asyncpg.Pool) -> None:
    """Every commit's relay stamps, so a stamp must cost what is pending, not what the outbox holds
    (OUTBOX_HORIZON_DAYS of events): stamping and reading after a cursor never scan the table,
    whatever the planner's statistics say (here: none, as on a fresh table)."""
    for i in range(50):
        await committed(pool, event(i), event(i, 1))
        await event_store.stamp(pool)
    await committed(pool, event(50))
    scans = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'events'"
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(scans)  # counts not yet flushed from earlier transactions
        assert await event_store.stamp(conn) == 101
        assert await event_store.stamp(conn) == 101  # nothing pending
        events, head = await event_store.stamp_and_read(conn, 99, limit=10)
        after = await conn.fetchrow(scans)
    assert ([e.sequence for e in events], head) == ([100, 101], 101)
    assert before is not None and after is not None
    assert after["idx_scan"] > before["idx_scan"]
    assert after["seq_scan"] == before["seq_scan"]
