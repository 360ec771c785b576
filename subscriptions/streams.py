"""Replay-then-live event streams: subscribe first, replay from the table, then go live."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import asyncpg

from db import events as event_store
from domain.events import StoredEvent

from .bus import EventBus
from .sessions import Session

REPLAY_BATCH = 500

Match = Callable[[StoredEvent], bool]


async def _replay(pool: asyncpg.Pool, after: int, until: int | None = None) -> AsyncIterator[StoredEvent]:
    """Events after `after` from the table; raise ReplayTooOld rather than skip pruned ones."""
    last = after
    while True:
        batch = await event_store.read_after(pool, last, limit=REPLAY_BATCH, until=until)
        if not batch or batch[0].sequence != last + 1:
            await event_store.check_replayable(pool, last)  # sequences are gap-free: a gap was pruned
        for event in batch:
            last = event.sequence
            yield event
        if len(batch) < REPLAY_BATCH:
            return


async def _in_order(
    pool: asyncpg.Pool, bus: EventBus, after: int | None
) -> AsyncGenerator[StoredEvent, None]:
    """Every committed event after `after` (or from now), once, in order.

    Live events arrive in sequence order; a gap (a missed publish, a lagging queue) is filled
    from the table, so what a subscriber sees never depends on the broker being perfect.
    """
    async with bus.listen() as listener:
        last = after if after is not None else await event_store.head(pool)
        async for event in _replay(pool, last):
            last = event.sequence
            yield event
        while True:
            if listener.lagging:
                while not listener.queue.empty():
                    listener.queue.get_nowait()
                listener.lagging = False
                async for event in _replay(pool, last):
                    last = event.sequence
                    yield event
                continue
            live = await listener.queue.get()
            if live.sequence <= last:
                continue
            if live.sequence > last + 1:
                async for event in _replay(pool, last, until=live.sequence - 1):
                    last = event.sequence
                    yield event
            last = live.sequence
            yield live


async def events(
    pool: asyncpg.Pool, bus: EventBus, after: int | None, match: Match, session: Session | None = None
) -> AsyncIterator[StoredEvent]:
    """The events of `_in_order` that `match` admits. With a live `session`, an event waits out a
    pending re-check of the session's viewer before it is matched (so `match` reads the scope as
    it is now), and a closed session gets nothing more (DESIGN 2)."""
    async with contextlib.aclosing(_in_order(pool, bus, after)) as ordered:  # leave the bus at once
        async for event in ordered:
            unsure = session is not None and (session.closed or not session.settled.is_set())
            if unsure and session is not None and not await session.ready():
                continue  # closed: its socket is closing, and the handler ends this stream
            if match(event):
                yield event
