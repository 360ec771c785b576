"""Replay-then-live event streams: subscribe first, replay from the table, then go live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg

from db import events as event_store
from domain.events import StoredEvent

from .bus import EventBus

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


async def events(
    pool: asyncpg.Pool, bus: EventBus, after: int | None, match: Match
) -> AsyncIterator[StoredEvent]:
    """Every committed event after `after` (or from now) that `match` admits, once, in order.

    Live events arrive in sequence order; a gap (a missed publish, a lagging queue) is filled
    from the table, so what a subscriber sees never depends on the broker being perfect.
    """
    async with bus.listen() as listener:
        last = after if after is not None else await event_store.head(pool)
        async for event in _replay(pool, last):
            last = event.sequence
            if match(event):
                yield event
        while True:
            if listener.lagging:
                while not listener.queue.empty():
                    listener.queue.get_nowait()
                listener.lagging = False
                async for event in _replay(pool, last):
                    last = event.sequence
                    if match(event):
                        yield event
                continue
            live = await listener.queue.get()
            if live.sequence <= last:
                continue
            if live.sequence > last + 1:
                async for event in _replay(pool, last, until=live.sequence - 1):
                    last = event.sequence
                    if match(event):
                        yield event
            last = live.sequence
            if match(live):
                yield live
