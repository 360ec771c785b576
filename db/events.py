"""The outbox: append in the change's transaction, read back in sequence order."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from domain.events import NewEvent, StoredEvent

from .errors import DbError
from .pool import Conn, Executor

# Sent inside the appending transaction, so PostgreSQL delivers it only on commit.
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


async def append(conn: Conn, events: Sequence[NewEvent]) -> int | None:
    """Append events; call last in the transaction, as it holds the head lock until commit.

    Returns the last sequence appended, or None when there was nothing to append.
    """
    if not events:
        return None
    # One round trip: the head lock is held from here to commit, so keep this statement last and single.
    last: int = await conn.fetchval(
        f"""
        WITH head AS (UPDATE event_head SET sequence = sequence + $1 RETURNING sequence),
        appended AS (
            INSERT INTO events ({EVENT_COLUMNS})
            SELECT head.sequence - $1 + o, t, p, ow, string_to_array(au, ',')::bigint[], pi, di, qi, ii
              FROM head, unnest($2::text[], $3::jsonb[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[],
                                $8::bigint[], $9::bigint[]) WITH ORDINALITY AS x (t, p, ow, au, pi, di, qi, ii, o))
        SELECT head.sequence FROM head, LATERAL (SELECT pg_notify($10, head.sequence::text)) AS notified
        """,  # noqa: S608
        len(events),
        [e.type for e in events],
        [e.payload for e in events],
        [e.owner_id for e in events],
        [",".join(map(str, sorted(e.audience))) for e in events],
        [e.pipeline_id for e in events],
        [e.deal_id for e in events],
        [e.quote_id for e in events],
        [e.import_id for e in events],
        EVENTS_CHANNEL,
    )
    return last


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
