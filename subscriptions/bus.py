"""One process-wide subscription to the broker, fanned out to local listeners."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from broadcaster import Broadcast

from db import events as event_store
from domain.events import StoredEvent

logger = logging.getLogger(__name__)

CHANNEL = "dealflow.events"
QUEUE_LIMIT = 10_000
BATCH = 1000
MAX_CHANNEL = 63  # PostgreSQL truncates identifiers (LISTEN channels) longer than this
MAX_BACKOFF = 2.0


def channel_for(database: str) -> str:
    """One channel per database, so deployments sharing a Redis never hear each other."""
    name = f"{CHANNEL}.{database}"
    if len(name.encode()) <= MAX_CHANNEL:
        return name
    return f"{CHANNEL}.{hashlib.sha256(database.encode()).hexdigest()[:32]}"


class Listener:
    """A subscriber's queue. When it overflows the listener is marked lagging and must
    fall back to the outbox table, so a slow client never loses events or stalls others."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[StoredEvent] = asyncio.Queue(QUEUE_LIMIT)
        self.lagging = False

    def offer(self, event: StoredEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagging = True


class EventBus:
    """Subscribes once at start-up (DESIGN 12: broadcaster's subscribe races) and fans out.

    With a pool it reads the outbox itself, once per process rather than once per listener,
    whenever the broker's stream has a hole: a gap in sequences (Redis dropped a message), a
    reference to an event too large for its message, or RESYNC after a backend reconnected
    (what was published meanwhile is in the table). Duplicates stop here.
    """

    def __init__(self, broadcast: Broadcast, pool: asyncpg.Pool | None = None) -> None:
        self.broadcast = broadcast
        self.pool = pool
        self.channel = CHANNEL
        self.listeners: set[Listener] = set()
        self.observers: list[Callable[[StoredEvent], None]] = []  # called before listeners, in order
        self.last_seen = 0  # the highest sequence the broker delivered
        self.fanned_out = 0  # the highest sequence offered to listeners, from the broker or the table
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self.pool is not None:
            self.channel = channel_for(await self.pool.fetchval("SELECT current_database()"))
            self.fanned_out = await event_store.head(self.pool)
        await self.broadcast.connect()
        self._task = asyncio.create_task(self._pump(), name="event-bus")
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.broadcast.disconnect()

    async def publish(self, events: list[StoredEvent]) -> None:
        """One message for the whole list: `{"sequence": last, "batch": [event, …]}`."""
        if not events:
            return
        message = {"sequence": events[-1].sequence, "batch": [e.to_wire() for e in events]}
        await self.broadcast.publish(self.channel, json.dumps(message))

    async def _pump(self) -> None:
        backoff = 0.05
        while True:
            try:
                async with self.broadcast.subscribe(self.channel) as subscriber:
                    self._ready.set()
                    async for message in subscriber:  # type: ignore[union-attr]
                        if message is not None:
                            await self.receive(message.message)
                        backoff = 0.05
            except Exception:  # keep the listeners; they heal any gap from the table
                logger.exception("event bus subscription failed; subscribing again in %.2fs", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def receive(self, message: str) -> None:
        try:
            data: dict[str, Any] = json.loads(message)
            if data.get("resync"):
                await self._catch_up(None)
                return
            sequence = int(data["sequence"])
            if "batch" in data:
                events = [StoredEvent.from_wire(item) for item in data["batch"]]
            else:
                events = [] if data.get("ref") else [StoredEvent.from_wire(data)]
        except (ValueError, KeyError, TypeError):
            logger.warning("event bus ignored a malformed message: %.200r", message)
            return
        if not events:  # a reference: read up to it from the table
            self.last_seen = max(self.last_seen, sequence)
            await self._catch_up(sequence)
            return
        for event in events:
            await self._receive_one(event)

    async def _receive_one(self, event: StoredEvent) -> None:
        sequence = event.sequence
        self.last_seen = max(self.last_seen, sequence)
        if sequence <= self.fanned_out:
            return  # a duplicate; or late, and every listener has it (they fill gaps in order)
        if sequence > self.fanned_out + 1:
            await self._catch_up(sequence - 1)
        self._offer(event)

    def _offer(self, event: StoredEvent) -> None:
        self.fanned_out = max(self.fanned_out, event.sequence)
        for observe in self.observers:
            observe(event)
        for listener in tuple(self.listeners):
            listener.offer(event)

    async def _catch_up(self, until: int | None) -> None:
        if self.pool is None or (until is not None and until <= self.fanned_out):
            return
        try:
            while True:
                batch = await event_store.read_after(self.pool, self.fanned_out, limit=BATCH, until=until)
                for event in batch:
                    self._offer(event)
                if len(batch) < BATCH:
                    return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            # Listeners fill the gap themselves when the next event arrives.
            logger.warning("event bus could not read the outbox", exc_info=True)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        listener = Listener()
        self.listeners.add(listener)
        try:
            yield listener
        finally:
            self.listeners.discard(listener)
