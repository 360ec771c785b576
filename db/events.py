"""The outbox: append in the change's transaction, read back in sequence order."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.events import NewEvent, StoredEvent

from .errors import DbError
from .pool import Conn, Executor

# Notified on the commit of every appending transaction and of every stamp (migration 0016).
EVENTS_CHANNEL = "dealflow_events"

EVENT_COLUMNS = "sequence, type, payload, owner_id, audience, pipeline_id, deal_id, quote_id, import_id"


def event_from_row(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        sequence=row["sequence"],
        type=row["type"],
        payload=row["payload"],
        owner_id=row["owner_id"],
        audience=frozenset(row["audience"]),
        pipeline_id=row["pipeline_id"],
        deal_id=row["deal_id"],
        quote_id=row["quote_id"],
        import_id=row["import_id"],
    )


async def append(conn: Conn, events: Sequence[NewEvent]) -> None:
    """Append events in the change's transaction, anywhere in it; no lock is taken.

    They are invisible to readers until `stamp` gives them their sequences after commit (migration
    0016): the committing process wakes its relay, which stamps. No NOTIFY here: PostgreSQL
    serialises the commits of notifying transactions, which is what the stamp's one NOTIFY is for.
    """
    if not events:
        return
    await conn.execute(
        f"""
        INSERT INTO events ({EVENT_COLUMNS})
        SELECT -nextval('event_pending'), t, p, ow, string_to_array(au, ',')::bigint[], pi, di, qi, ii
          FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[],
                      $7::bigint[], $8::bigint[]) AS x (t, p, ow, au, pi, di, qi, ii)
        """,  # noqa: S608
        [e.type for e in events],
        [e.payload for e in events],
        [e.owner_id for e in events],
        [",".join(map(str, sorted(e.audience))) for e in events],
        [e.pipeline_id for e in events],
        [e.deal_id for e in events],
        [e.quote_id for e in events],
        [e.import_id for e in events],
    )


async def stamp(conn: Executor) -> int:
    """Give every committed, unstamped event its sequence, in append order; the head after.

    Safe from any process at any time (stampers take turns); cheap when nothing waits."""
    last: int = await conn.fetchval("SELECT stamp_events()")
    return last


async def stamp_and_read(conn: Executor, after: int, *, limit: int) -> tuple[list[StoredEvent], int]:
    """stamp, then read_after(after, limit=limit), in one round trip (migration 0018): the events
    and the head after the stamp."""
    rows = await conn.fetch("SELECT * FROM stamp_and_read($1, $2)", after, limit)
    return [event_from_row(r) for r in rows[:-1]], rows[-1]["head"]


async def head(conn: Executor) -> int:
    """The last committed sequence."""
    value: int = await conn.fetchval("SELECT sequence FROM event_head")
    return value


async def read_after(
    conn: Executor,
    after: int,
    *,
    limit: int = 1000,
    until: int | None = None,
) -> list[StoredEvent]:
    rows = await conn.fetch(
        f"""
        SELECT {EVENT_COLUMNS} FROM events
         WHERE sequence > $1 AND ($3::bigint IS NULL OR sequence <= $3)
         ORDER BY sequence LIMIT $2
        """,  # noqa: S608
        after,
        limit,
        until,
    )
    return [event_from_row(r) for r in rows]


class ReplayTooOld(DbError):
    """A replay from before the oldest event the outbox still keeps: answered, never a silent gap."""

    def __init__(self, oldest: int) -> None:
        super().__init__(f"Events up to {oldest - 1} are pruned: replay from {oldest - 1} or later.")
        self.oldest = oldest
        self.extensions = {"code": "REPLAY_TOO_OLD", "oldestSequence": str(oldest)}


async def pruned_through(conn: Executor) -> int:
    """The last pruned sequence: a replay must start at it or later."""
    value: int = await conn.fetchval("SELECT through FROM outbox_pruned")
    return value


async def check_replayable(conn: Executor, after: int) -> None:
    through = await pruned_through(conn)
    if after < through:
        raise ReplayTooOld(through + 1)
