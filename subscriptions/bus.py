"""One process-wide subscription to the broker, fanned out to local listeners."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from broadcaster import Broadcast

from domain.events import StoredEvent

logger = logging.getLogger(__name__)

CHANNEL = "dealflow.events"
QUEUE_LIMIT = 10_000


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
    """Subscribes once at start-up (DESIGN 12: broadcaster's subscribe races) and fans out."""

    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast
        self.listeners: set[Listener] = set()
        self.last_seen = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
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
        for event in events:
            await self.broadcast.publish(CHANNEL, json.dumps(event.to_wire()))

    async def _pump(self) -> None:
        async with self.broadcast.subscribe(CHANNEL) as subscriber:
            self._ready.set()
            async for message in subscriber:  # type: ignore[union-attr]
                if message is None:
                    continue
                event = StoredEvent.from_wire(json.loads(message.message))
                self.last_seen = max(self.last_seen, event.sequence)
                for listener in tuple(self.listeners):
                    listener.offer(event)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        listener = Listener()
        self.listeners.add(listener)
        try:
            yield listener
        finally:
            self.listeners.discard(listener)
