"""The outbox relay: one leader per database with a shared broker, nothing skipped on failover."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import asyncpg
import pytest

from db import events as event_store
from domain.events import NewEvent, StoredEvent
from subscriptions.bus import EventBus
from subscriptions.relay import LEADER_LOCK, Relay


class Broker:
    """A shared broker in miniature: what was published, heard by every bus."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int]] = []
        self.buses: list[FakeBus] = []
        self.failures = 0

    def bus(self, name: str) -> FakeBus:
        bus = FakeBus(self, name)
        self.buses.append(bus)
        return bus


class FakeBus:
    def __init__(self, broker: Broker, name: str) -> None:
        self.broker = broker
        self.name = name
        self.last_seen = 0

    async def publish(self, events: list[StoredEvent]) -> None:
        if self.broker.failures:
            self.broker.failures -= 1
            raise ConnectionError("broker down")
        for event in events:
            self.broker.published.append((self.name, event.sequence))
            for bus in self.broker.buses:
                bus.last_seen = max(bus.last_seen, event.sequence)


@pytest.fixture
async def relays(pool: asyncpg.Pool) -> AsyncIterator[Callable[..., Relay]]:
    started: list[Relay] = []

    async def start(bus: FakeBus, *, shared: bool = True) -> Relay:
        relay = Relay(pool, cast(EventBus, bus), shared=shared)
        await relay.start()
        started.append(relay)
        return relay

    yield start  # type: ignore[misc]
    for relay in started:
        await relay.stop()


async def append(pool: asyncpg.Pool, n: int) -> None:
    for i in range(n):
        async with pool.acquire() as conn, conn.transaction():
            await event_store.append(conn, [NewEvent(type="test", payload={"i": i})])


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The events each read of the relay returned, whether it stamped in the same round trip or not."""
    reads: list[int] = []
    read_after, stamp_and_read = event_store.read_after, event_store.stamp_and_read

    async def counted_read(*args: Any, **kwargs: Any) -> list[StoredEvent]:
        found = await read_after(*args, **kwargs)
        reads.append(len(found))
        return found

    async def counted_stamp_and_read(*args: Any, **kwargs: Any) -> tuple[list[StoredEvent], int]:
        found, head = await stamp_and_read(*args, **kwargs)
        reads.append(len(found))
        return found, head

    monkeypatch.setattr(event_store, "read_after", counted_read)
    monkeypatch.setattr(event_store, "stamp_and_read", counted_stamp_and_read)
    return reads


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_only_one_relay_publishes_when_the_broker_is_shared(pool: asyncpg.Pool, relays) -> None:
    broker = Broker()
    a, b = await relays(broker.bus("a")), await relays(broker.bus("b"))
    await until(lambda: a.leader or b.leader)
    await append(pool, 3)
    await until(lambda: len(broker.published) == 3)
    await asyncio.sleep(0.3)
    assert [seq for _, seq in broker.published] == [1, 2, 3]
    assert len({name for name, _ in broker.published}) == 1
    assert [a.leader, b.leader].count(True) == 1
    holders = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LEADER_LOCK & 0xFFFFFFFF,
    )
    assert holders == 1


async def test_another_process_takes_over_when_the_leader_stops_and_skips_nothing(
    pool: asyncpg.Pool, relays
) -> None:
    broker = Broker()
    a = await relays(broker.bus("a"))
    await until(lambda: a.leader)
    b = await relays(broker.bus("b"))
    await append(pool, 2)
    await until(lambda: len(broker.published) == 2)
    await a.stop()  # its session ends, and the lock with it
    await append(pool, 3)  # committed while nobody leads
    await until(lambda: b.leader, timeout=3)
    await until(lambda: len(broker.published) == 5)
    assert broker.published == [("a", 1), ("a", 2), ("b", 3), ("b", 4), ("b", 5)]


async def test_a_leader_whose_session_is_terminated_stops_leading_and_nothing_is_lost(
    pool: asyncpg.Pool, relays
) -> None:
    broker = Broker()
    a = await relays(broker.bus("a"))
    await until(lambda: a.leader)
    b = await relays(broker.bus("b"))
    await append(pool, 2)
    await until(lambda: len(broker.published) == 2)
    await pool.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LEADER_LOCK & 0xFFFFFFFF,
    )
    await append(pool, 3)
    await until(lambda: {seq for _, seq in broker.published} == {1, 2, 3, 4, 5}, timeout=5)
    # The terminated leader learns it on its next poll (it never publishes meanwhile: `holding` checks
    # its connection); b may have published everything before that.
    await until(lambda: [a.leader, b.leader].count(True) == 1, timeout=3)
    sequences = [seq for _, seq in broker.published]
    assert sequences[:2] == [1, 2] and sorted(set(sequences)) == sequences  # in order, none twice


async def test_a_publish_failure_keeps_the_cursor_and_the_relay_catches_up(
    pool: asyncpg.Pool, relays
) -> None:
    broker = Broker()
    a = await relays(broker.bus("a"))
    await until(lambda: a.leader)
    broker.failures = 3
    await append(pool, 5)
    a.wake()
    await until(lambda: len(broker.published) == 5)
    assert [seq for _, seq in broker.published] == [1, 2, 3, 4, 5]
    assert broker.failures == 0


async def test_with_memory_every_relay_is_its_own_leader(pool: asyncpg.Pool, relays) -> None:
    broker = Broker()
    await relays(broker.bus("a"), shared=False)
    await relays(broker.bus("b"), shared=False)
    await append(pool, 2)
    await until(lambda: len(broker.published) == 4)
    assert sorted(broker.published) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]


@pytest.mark.parametrize(
    ("last_seen", "started_at", "cursor"),
    [(0, 10, 10), (7, 10, 7), (12, 10, 12)],
)
def test_a_new_leader_publishes_after_what_its_bus_heard_else_the_head_at_start(
    last_seen: int, started_at: int, cursor: int
) -> None:
    bus = FakeBus(Broker(), "a")
    bus.last_seen = last_seen
    relay = Relay(cast(asyncpg.Pool, None), cast(EventBus, bus), shared=True)
    relay.started_at = started_at
    relay.become_leader()
    assert relay.published_through == cursor


async def test_a_relay_drains_for_another_process_stamp_but_not_again_for_its_own(
    pool: asyncpg.Pool, relays, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its drain reads through what its own stamp numbered, so the NOTIFY of that stamp (handled,
    often, before the stamp's own answer) is no reason to stamp and read again; a stamp by another
    process is. Before, every local commit cost a second drain that read nothing."""
    import subscriptions.relay

    monkeypatch.setattr(subscriptions.relay, "POLL_SECONDS", 60.0)  # wake-ups only, no polls
    reads = count_reads(monkeypatch)
    broker = Broker()
    a = await relays(broker.bus("a"))
    await until(lambda: a.leader)
    await asyncio.sleep(0.1)
    reads.clear()

    await append(pool, 1)
    a.wake()  # as a commit in its own process does
    await until(lambda: len(broker.published) == 1)
    await asyncio.sleep(0.3)  # its own stamp's NOTIFY has come and gone
    assert reads == [1]  # one drain, one read: a batch short of BATCH is all that was stamped

    await append(pool, 1)
    await event_store.stamp(pool)  # as another process's relay would after its commit: news
    await until(lambda: len(broker.published) == 2)
    assert [seq for _, seq in broker.published] == [1, 2]


async def test_a_drain_reads_on_after_a_full_batch_and_stops_after_a_short_one(
    pool: asyncpg.Pool, relays, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read shows a prefix of what was stamped (stamps are serial, numbered in commit order): a
    full batch may have more behind it, a short one has not."""
    import subscriptions.relay

    monkeypatch.setattr(subscriptions.relay, "POLL_SECONDS", 60.0)
    monkeypatch.setattr(subscriptions.relay, "BATCH", 2)
    reads = count_reads(monkeypatch)
    broker = Broker()
    a = await relays(broker.bus("a"))
    await until(lambda: a.leader)
    await asyncio.sleep(0.1)
    for appended, expected in ((5, [2, 2, 1]), (2, [2, 0])):
        reads.clear()
        await append(pool, appended)
        a.wake()
        await until(lambda n=appended: len(broker.published) >= n)
        await asyncio.sleep(0.3)
        assert reads == expected
        broker.published.clear()
