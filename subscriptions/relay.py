"""Outbox relay: reads committed events from the table and publishes them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import events as event_store

from .bus import EventBus

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 1000


class Relay:
    """Woken after a local commit (`wake`), by the NOTIFY an appending transaction sends
    on commit (other processes), or by a poll; it never trusts a wake-up for content:
    it always reads the table after the last sequence it published."""

    def __init__(self, pool: asyncpg.Pool, bus: EventBus) -> None:
        self.pool = pool
        self.bus = bus
        self.published_through = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listen_conn: PoolConnectionProxy | None = None

    async def start(self) -> None:
        self.published_through = await event_store.head(self.pool)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            return
        try:
            self._listen_conn = conn = await self.pool.acquire()
            await conn.add_listener(event_store.EVENTS_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError):
            logger.warning("relay cannot LISTEN now; polling", exc_info=True)
            await self._close_listener()

    async def _close_listener(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(event_store.EVENTS_CHANNEL, self._on_notify)
            with contextlib.suppress(Exception):
                await self.pool.release(conn)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            await self._listen()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                await self.drain()
                backoff = 0.05
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
                logger.warning("relay could not publish; retrying", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                self._wake.set()

    async def drain(self) -> None:
        while True:
            batch = await event_store.read_after(self.pool, self.published_through, limit=BATCH)
            if not batch:
                return
            await self.bus.publish(batch)
            self.published_through = batch[-1].sequence
