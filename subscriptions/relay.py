"""Outbox relay: reads committed events from the table and publishes them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import events as event_store

from .bus import EventBus
from .waking import next_turn

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
LEADER_RETRY_SECONDS = 1.0
ACQUIRE_TIMEOUT = 5.0
BATCH = 1000
MIN_BACKOFF = 0.05
MAX_BACKOFF = 2.0
# pg_try_advisory_lock key for "this process publishes" (migrations and seed-demo use others).
LEADER_LOCK = 7_362_010_002

DbError = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


PUBLISH_CHUNK = 50  # events per broker message; the PostgreSQL backend turns big ones into references


class Relay:
    """Woken after a local commit (`wake`), by the NOTIFY a stamp sends on commit (other
    processes), or by a poll; it never trusts a wake-up for content: it stamps what committed
    (db.events.stamp), then reads the table after the last sequence it published.

    With a shared broker (`shared`) one relay publishes for all processes: the one whose
    held connection has the advisory lock LEADER_LOCK. Its session ends with its process, which
    frees the lock; another process takes it within LEADER_RETRY_SECONDS and publishes from
    the last sequence its own bus heard, so a few events may go out twice (subscribers drop
    duplicates) but none is skipped. With `memory://` every process is its own leader.
    """

    def __init__(self, pool: asyncpg.Pool, bus: EventBus, *, shared: bool = False) -> None:
        self.pool = pool
        self.bus = bus
        self.shared = shared
        self.leader = not shared
        self.published_through = 0
        self.stamped_through = 0  # the head this relay's last stamp returned
        self.notified_through = 0  # the highest head a stamp's NOTIFY announced
        self._work = False  # a local commit, a leadership gained or a failure: drain at the next turn
        self.started_at = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: PoolConnectionProxy | None = None  # LISTEN, and the leader lock when shared
        self._next_try = 0.0

    async def start(self) -> None:
        self.started_at = self.published_through = await event_store.head(self.pool)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    def wake(self) -> None:
        """Something committed in this process (or there is work to redo): stamp and drain."""
        self._work = True
        self._wake.set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        """A stamp committed somewhere; its payload is the head after it."""
        try:
            self.notified_through = max(self.notified_through, int(str(payload)))
        except ValueError:  # not a stamp's NOTIFY: look anyway
            self._work = True
        self._wake.set()

    def _news(self) -> bool:
        """Whether the NOTIFYs received hold anything to publish: not for a relay that does not
        publish, nor past this relay's own last stamp, which its drain reads through (its own
        stamp's NOTIFY, often handled before the stamp's own answer, woke it to read nothing)."""
        return self.holding and self.notified_through > self.stamped_through

    @property
    def holding(self) -> bool:
        """Whether this relay may publish now: its own leader, or holding the lock's session."""
        if not self.shared:
            return True
        return self.leader and _alive(self._conn)

    async def _hold(self) -> None:
        """Keep the connection that LISTENs and, when shared, contends for leadership."""
        if self._conn is not None and not _alive(self._conn):
            logger.warning("relay lost its database session; reconnecting")
            await self._drop()
        if self._conn is None:
            self._conn = conn = await self.pool.acquire(timeout=ACQUIRE_TIMEOUT)
            await conn.add_listener(event_store.EVENTS_CHANNEL, self._on_notify)
        now = asyncio.get_running_loop().time()
        if self.shared and not self.leader and now >= self._next_try:
            self._next_try = now + LEADER_RETRY_SECONDS
            if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
                self.become_leader()

    def become_leader(self) -> None:
        self.leader = True
        self.published_through = self.bus.last_seen or self.started_at
        self.wake()  # publish what was stamped while it did not lead, without waiting for a poll
        logger.info("relay leads: publishing after sequence %s", self.published_through)

    async def _drop(self) -> None:
        """Give up the held connection; ending its session frees the leader lock."""
        conn, self._conn = self._conn, None
        self.leader = not self.shared
        if conn is not None:
            with contextlib.suppress(*DbError):  # a connection that ended is back in the pool already
                conn.terminate()
                await self.pool.release(conn)

    async def _run(self) -> None:
        backoff = MIN_BACKOFF
        while True:
            try:
                await self._hold()
            except DbError as exc:
                logger.warning("relay cannot hold its connection (%s); polling", exc)
                await self._drop()
            woken = await next_turn(self._wake, POLL_SECONDS)
            work, self._work = self._work, False
            if woken and not work and not self._news():
                continue  # only NOTIFYs of stamps already read through; a poll always drains
            try:
                await self.drain()
                backoff = MIN_BACKOFF
            except DbError as exc:
                logger.warning("relay could not publish (%s); retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                self.wake()

    async def drain(self) -> None:
        """Stamp what committed, then publish every stamped event after the cursor, in order; the
        cursor moves only past events the broker accepted, so a failure resumes where it stopped."""
        # Every relay stamps, leader or not: what committed since the last stamp gets its sequences,
        # and the stamp's NOTIFY wakes the leader (and webhook senders) in every process. The one
        # that publishes reads the first batch in the same round trip.
        if not self.holding:
            self.stamped_through = max(self.stamped_through, await event_store.stamp(self.pool))
            return
        batch, head = await event_store.stamp_and_read(self.pool, self.published_through, limit=BATCH)
        self.stamped_through = max(self.stamped_through, head)
        while batch:
            for start in range(0, len(batch), PUBLISH_CHUNK):
                if not self.holding:
                    return
                chunk = batch[start : start + PUBLISH_CHUNK]
                await self.bus.publish(chunk)  # one broker round trip per chunk, not per event
                self.published_through = chunk[-1].sequence
            if len(batch) < BATCH or not self.holding:
                # Stamps are serial and numbered in commit order, so a read shows a prefix of what
                # was stamped: a short batch is all of it. A later stamp NOTIFYs (see _news).
                return
            batch = await event_store.read_after(self.pool, self.published_through, limit=BATCH)


def _alive(conn: PoolConnectionProxy | None) -> bool:
    try:
        return conn is not None and not conn.is_closed()
    except asyncpg.InterfaceError:  # the pool took back a connection that ended
        return False
