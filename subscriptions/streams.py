"""Replay-then-live event streams: subscribe first, replay from the table, then go live."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from db import events as event_store
from domain.events import StoredEvent

from .bus import EventBus, Interest, Match, Sink, Verdict, decide
from .sessions import Session

REPLAY_BATCH = 500


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
    pool: asyncpg.Pool,
    bus: EventBus,
    after: int | None,
    match: Match,
    session: Session | None = None,
    *,
    interest: Interest | None = None,
    sink: Sink | None = None,
) -> AsyncIterator[StoredEvent]:
    """Every committed event after `after` (or after every event committed before it: from now)
    that `match` admits, once, in order.

    Live events arrive in sequence order; a gap (a missed publish, a lagging queue) is filled
    from the table, so what a subscriber sees never depends on the broker being perfect. The bus
    offers only events of the `interest` (a hint: `match` decides). With a live `session`, an event
    waits out a pending re-check of the session's viewer before it is matched (so `match` reads the
    scope as it is now), and a closed session gets nothing more (DESIGN 2); `decide` rules.

    With a `sink`, whenever its queue is empty the stream parks and the bus delivers its events
    through the sink (same order, same `decide`), until an event needs this generator again.
    """
    async with bus.listen(interest, match=match, session=session, sink=sink) as listener:
        # From now: after every event committed before it, stamped here if the relay has not yet
        # (an event committed just before, still unnumbered, would otherwise come as live).
        last = after if after is not None else await event_store.stamp(pool)
        async for event in _replay(pool, last):
            last = event.sequence
            if await _admitted(event, match, session):
                yield event
        while True:
            if listener.lagging:
                while not listener.queue.empty():
                    listener.queue.get_nowait()
                listener.lagging = False
                async for event in _replay(pool, last):
                    last = event.sequence
                    if await _admitted(event, match, session):
                        yield event
                continue
            if sink is not None and listener.queue.empty() and sink.group() is not None:
                last = max(last, await listener.park(last))
                continue
            live = await listener.queue.get()
            if live.sequence <= last:
                continue
            if live.sequence > last + 1 and bus.last_hole > last:  # it may have missed some
                async for event in _replay(pool, last, until=live.sequence - 1):
                    last = event.sequence
                    if await _admitted(event, match, session):
                        yield event
            last = live.sequence
            if await _admitted(live, match, session):
                yield live


async def _admitted(event: StoredEvent, match: Match, session: Session | None) -> bool:
    verdict = decide(event, match, session)
    if verdict is Verdict.WAIT:
        assert session is not None
        await session.ready()  # closed meanwhile: its socket is closing, and the handler ends this stream
        verdict = decide(event, match, session)
    return verdict is Verdict.DELIVER
