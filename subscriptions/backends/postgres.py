"""PostgreSQL LISTEN/NOTIFY for broadcaster that reconnects and listens again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import asyncpg
from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend

from . import RESYNC

logger = logging.getLogger(__name__)

# NOTIFY payloads must be shorter than 8000 bytes; a larger event goes as a reference that
# the bus reads back from the outbox table.
MAX_PAYLOAD = 7999
CHECK_SECONDS = 0.5
PING_SECONDS = 5.0
TIMEOUT = 5.0
MAX_BACKOFF = 2.0

DbError = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def notify_payload(message: str) -> str:
    if len(message.encode()) <= MAX_PAYLOAD:
        return message
    return json.dumps({"sequence": json.loads(message)["sequence"], "ref": True})


class PostgresBackend(BroadcastBackend):
    """One connection LISTENs (watched, pinged, replaced when it ends; RESYNC after each
    LISTEN), another sends `pg_notify`. NOTIFY is delivered in order while connected; what
    is sent while the listener is away is lost to it, and the outbox covers that."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.channels: set[str] = set()
        self._published: asyncio.Queue[Event] = asyncio.Queue()
        self._listener: asyncpg.Connection | None = None
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="postgres-backend")

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conn in (self._listener, self._publisher):
            if conn is not None:
                conn.terminate()
        self._listener = self._publisher = None

    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(*DbError):  # the supervisor listens again on reconnect
                await self._listen(self._listener, channel)

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(*DbError):
                await self._listener.remove_listener(channel, self._on_notify)

    async def publish(self, channel: str, message: Any) -> None:
        async with self._publish_lock:
            try:
                if self._publisher is None or self._publisher.is_closed():
                    self._publisher = await asyncpg.connect(self.url, timeout=TIMEOUT)
                await self._publisher.execute(
                    "SELECT pg_notify($1, $2)", channel, notify_payload(message), timeout=TIMEOUT
                )
            except DbError as exc:
                if self._publisher is not None:
                    self._publisher.terminate()
                    self._publisher = None
                raise ConnectionError(f"postgres publish failed: {exc}") from exc

    async def next_published(self) -> Event:
        return await self._published.get()

    def _on_notify(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._published.put_nowait(Event(channel, str(payload)))

    async def _listen(self, conn: asyncpg.Connection, channel: str) -> None:
        await conn.add_listener(channel, self._on_notify)
        self._published.put_nowait(Event(channel, RESYNC))

    async def _supervise(self) -> None:
        backoff = 0.05
        while True:
            try:
                self._listener = conn = await asyncpg.connect(self.url, timeout=TIMEOUT)
                for channel in sorted(self.channels):
                    await self._listen(conn, channel)
                backoff = 0.05
                await self._watch(conn)
            except DbError as exc:
                logger.warning("postgres LISTEN lost (%s); reconnecting in %.2fs", exc, backoff)
            if self._listener is not None:
                self._listener.terminate()
                self._listener = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _watch(self, conn: asyncpg.Connection) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + PING_SECONDS
        while not conn.is_closed():
            await asyncio.sleep(CHECK_SECONDS)
            if loop.time() >= next_ping:
                await conn.fetchval("SELECT 1", timeout=TIMEOUT)
                next_ping = loop.time() + PING_SECONDS
        raise ConnectionResetError("the LISTEN connection closed")
