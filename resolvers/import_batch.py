"""One batch of an import in one transaction: match, gate, write, record history and events."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from db import approvals as approval_store
from db import events as event_store
from db import imports as import_store
from db import lifecycle as lifecycle_store
from db import pipelines as pipeline_store
from db import records as record_store
from db.pool import Conn
from domain.events import NewEvent
from domain.import_plan import Found, Write, plan
from domain.imports import (
    DEDUPE,
    HeaderMap,
    ImportJob,
    ImportStatus,
    Raw,
    Row,
    RowError,
    first_occurrences,
    parse_row,
)
from domain.lifecycle import LifecycleSettings
from domain.records import ChangeSource, ObjectType, Record

from . import deals, effects, workflows
from .context import Context
from .result import Problem, Refusal
from .snapshots import as_text, camel, deal_event, history_rows

JOB_EVENT = "import.progress"
LEASE_SECONDS = 60.0  # a runner renews its lease with every batch
RETRIES = 3  # a batch that lost a dedupe or lock race to another writer runs again
# What the database says about a value rather than about itself: one row's fault, never the job's.
ROW_REFUSED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
# A batch written ahead waits at most this long for the one before it: should that one ever wait for a
# lock the batch ahead holds (a wait PostgreSQL cannot see as a deadlock), the batch ahead gives way.
AHEAD_WAIT_SECONDS = 5.0


class LeaseLost(Exception):
    """Another runner holds the job now (this one was too slow to renew its lease)."""


class Behind(Exception):
    """A batch written ahead cannot commit after the batch before it: it is rolled back and written again
    once that batch is done."""


class Turn:
    """A batch's place among the batches in flight. The next batch starts writing once this one holds the
    records it matched (`held`), and gives up at once when this one writes again (`again`: a retry or
    the row-by-row path), since the keys and rows that retry waits for may be the next batch's."""

    def __init__(self) -> None:
        self.held = asyncio.Event()
        self.again = asyncio.Event()


# What a batch written ahead gives way to: it is written again after the batch before it, as if alone.
GIVE_WAY = (Behind, LeaseLost, *ROW_REFUSED, asyncpg.DeadlockDetectedError)


@dataclass(frozen=True, slots=True)
class Ahead:
    """What a batch written ahead waits for before its effects, progress and events: the batch before it
    (`before`, in its `turn`) committed, leaving the job `after` rows into the file."""

    before: asyncio.Future[ImportJob]
    turn: Turn
    after: int


def job_event(job: ImportJob, kind: str = JOB_EVENT) -> NewEvent:
    """What importProgress streams: the job's counts, for its creator (and super admins)."""
    payload = {"import": {**dataclasses.asdict(job), "warnings": list(job.warnings)}}
    return NewEvent(type=kind, payload=payload, audience=frozenset({job.created_by}), import_id=job.id)


def job_from_event(payload: dict[str, Any]) -> ImportJob:
    job = payload["import"]
    return ImportJob(**{**job, "object_type": ObjectType(job["object_type"]), "status": ImportStatus(job["status"]),
                        "warnings": tuple(job["warnings"])})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Parsed:
    rows: list[Row]
    errors: list[RowError]
    count: int


async def parse_batch(mapping: HeaderMap, raws: Sequence[Raw]) -> Parsed:
    """Parse a batch, yielding to the event loop now and then: it runs while the previous batch writes."""
    rows: list[Row] = []
    errors: list[RowError] = []
    for i, raw in enumerate(raws):
        if i % 256 == 255:
            await asyncio.sleep(0)
        parsed = parse_row(mapping, raw)
        if isinstance(parsed, RowError):
            errors.append(parsed)
        else:
            rows.append(parsed)
    return Parsed(rows, errors, len(raws))


async def run_batch(
    ctx: Context, runner: str, job: ImportJob, batch: Parsed, turn: Turn | None = None
) -> ImportJob:
    """Write a parsed batch in one transaction; a row error never stops the other rows. Should the
    database still refuse a row the checks let through, the batch is written row by row and that
    row alone is reported: the job never fails for one row (DESIGN 3)."""
    turn = turn or Turn()
    try:
        return await _run_batch(ctx, runner, job, batch, turn)
    except ROW_REFUSED:
        if not batch.rows:
            raise
    turn.again.set()
    saved = await _run_batch(ctx, runner, job, Parsed([], batch.errors, batch.count - len(batch.rows)), turn)
    for row in batch.rows:
        try:
            saved = await _run_batch(ctx, runner, saved, Parsed([row], [], 1), turn)
        except ROW_REFUSED as exc:
            refused = RowError(row.line, f"the database refused the row (SQLSTATE {exc.sqlstate})")
            saved = await _run_batch(ctx, runner, saved, Parsed([], [refused], 1), turn)
    return saved


async def run_ahead(
    ctx: Context, runner: str, job: ImportJob, batch: Parsed, turn: Turn, ahead: Ahead
) -> ImportJob:
    """Write a batch while the one before it still writes, so that PostgreSQL works on one while Python
    works on the other. It matches, inserts and records history at once, then waits for the batch
    before to commit, then runs its effects, saves its progress (if the job is `ahead.after` rows in)
    and commits. Anything that batch's commit could have changed (a key it claimed, a row it locked)
    this one met through PostgreSQL, which waited. If the batch before fails or writes again, this one
    rolls back and is written again after it, as if alone (run_batch): same rows, same answer."""
    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            saved = await _write(ctx, conn, runner, job, batch, turn, ahead)
    except GIVE_WAY:
        turn.again.set()
        return await run_batch(ctx, runner, await ahead.before, batch, turn)
    ctx.committed()
    return saved


async def _until_committed(ahead: Ahead) -> None:
    """Until the batch before has committed; Behind if it failed or writes again."""
    done = await first_of(ahead.before, ahead.turn.again, AHEAD_WAIT_SECONDS)
    if not done or ahead.before.cancelled() or ahead.before.exception() is not None:
        raise Behind


async def first_of(future: asyncio.Future[Any], event: asyncio.Event, at_most: float | None = None) -> bool:
    """Until `future` is done or `event` is set (or `at_most` seconds have passed); whether `future` is done."""
    setting = asyncio.ensure_future(event.wait())
    waits: list[asyncio.Future[Any]] = [future, setting]
    try:
        await asyncio.wait(waits, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        setting.cancel()
    return future.done()


async def _run_batch(ctx: Context, runner: str, job: ImportJob, batch: Parsed, turn: Turn) -> ImportJob:
    for attempt in range(RETRIES):
        try:
            async with ctx.pool.acquire() as conn, conn.transaction():
                saved = await _write(ctx, conn, runner, job, batch, turn)
            break
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            turn.again.set()
            if attempt == RETRIES - 1:
                raise
    ctx.committed()
    return saved


async def _write(
    ctx: Context,
    conn: Conn,
    runner: str,
    job: ImportJob,
    batch: Parsed,
    turn: Turn,
    ahead: Ahead | None = None,
) -> ImportJob:
    object_type = job.object_type
    if ahead is None and await import_store.lock_job(conn, job.id, runner, LEASE_SECONDS) is None:
        raise LeaseLost(job.id)
    firsts: dict[str, int] = {}
    for row in batch.rows:
        for key in row.keys(object_type):
            firsts.setdefault(key, row.line)
    earlier = await import_store.claim_keys(conn, job.id, firsts)
    unique, duplicates = first_occurrences(object_type, batch.rows, earlier)
    found = await _found(conn, object_type, unique)
    writes, refused = plan(object_type, unique, found, ctx.me)
    placed: dict[int, deals.Placement] = {}
    if object_type is ObjectType.DEAL:
        writes, gated, placed = await _gate(ctx, conn, writes)
        refused += gated
    turn.held.set()
    new = [w for w in writes if w.before is None]
    changed = [w for w in writes if w.before is not None and w.changed]
    created, updated, history, events = await _save(conn, object_type, new, changed)
    await record_store.insert_changes(
        conn, object_type, history, source=ChangeSource.IMPORT, changed_by=ctx.me.id
    )
    if ahead is not None:
        await _until_committed(ahead)
        if await import_store.lock_job(conn, job.id, runner, LEASE_SECONDS, processed=ahead.after) is None:
            raise Behind
    if object_type is ObjectType.DEAL:
        events += await _effects(
            ctx, conn, list(zip(created, new, strict=True)),
            [(b, a, w) for (b, a), w in zip(updated, changed, strict=True)], placed,
        )  # fmt: skip
    else:
        for before, after in updated:
            events += await effects.after_update(ctx, conn, before, after)
    changes: list[tuple[Record | None, Record]] = [*((None, r) for r in created), *updated]
    events += await workflows.enroll(ctx, conn, object_type, changes, ChangeSource.IMPORT)
    problems = sorted([*batch.errors, *duplicates, *refused], key=lambda e: e.line)
    await import_store.insert_errors(conn, job.id, problems)
    saved = await import_store.save_progress(
        conn,
        job.id,
        processed=batch.count,
        created=len(new),
        updated=len(writes) - len(new),
        errors=len(problems),
    )
    await event_store.append(conn, [*events, job_event(saved)])
    return saved


async def _save(
    conn: Conn, object_type: ObjectType, new: list[Write], changed: list[Write]
) -> tuple[list[Record], list[tuple[Record, Record]], list[tuple[int, record_store.Changes]], list[NewEvent]]:
    """Insert and update; the new records' history and events are made while the INSERT runs."""
    if not new and not changed:
        return [], [], [], []
    ids, now = await import_store.next_ids(conn, object_type, len(new))
    created = [import_store.new_record(object_type, i, w, now) for i, w in zip(ids, new, strict=True)]
    inserting = asyncio.ensure_future(import_store.insert_records(conn, object_type, ids, new))
    try:
        await asyncio.sleep(0)
        shown = [texts(r) for r in created]
        history = [created_history(r, t) for r, t in zip(created, shown, strict=True)]
        events = [
            created_event(r, t) for r, t in zip(created, shown, strict=True) if r.type is not ObjectType.DEAL
        ]
    finally:
        await inserting
    await import_store.update_records(conn, object_type, changed)
    updated = [(w.before, _after(w, now)) for w in changed if w.before is not None]
    history += record_store.per_change(h for before, after in updated for h in history_rows(before, after))
    return created, updated, history, events


def _after(write: Write, now: datetime) -> Record:
    assert write.before is not None
    values = {**write.before.values, **write.values}
    return replace(
        write.before, values=values, owner_id=write.owner_id, version=write.before.version + 1, updated_at=now
    )


def created_history(record: Record, texts: Mapping[str, str | None]) -> tuple[int, record_store.Changes]:
    """db.records.per_change(snapshots.history_rows(None, record)) for a new record without custom
    properties, made faster."""
    changes: record_store.Changes = {_camel(c): (None, t) for c, t in texts.items() if t is not None}
    if record.owner_id is not None:
        changes["ownerId"] = (None, str(record.owner_id))
    return record.id, changes


def created_event(record: Record, texts: Mapping[str, str | None]) -> NewEvent:
    """effects.record_event("created", None, record), made faster."""
    changes = {c: (None, t) for c, t in texts.items()}
    kind = record.type.value
    payload = {"record": {"type": kind, "id": record.id, "changes": changes}}
    return NewEvent(type=f"{kind.lower()}.created", payload=payload, owner_id=record.owner_id)


def texts(record: Record) -> dict[str, str | None]:
    return {c: v if v is None or type(v) is str else as_text(v) for c, v in record.values.items()}


@functools.cache
def _camel(column: str) -> str:
    return camel(column)


async def _found(conn: Conn, object_type: ObjectType, rows: Sequence[Row]) -> Found:
    dedupe = DEDUPE.get(object_type)
    ids = [r.record_id for r in rows if r.record_id is not None]
    values = [str(r.values[dedupe]) for r in rows if dedupe and r.values.get(dedupe)]
    owners = sorted({r.owner for r in rows if r.owner})
    return Found(
        records=await import_store.lock_matches(conn, object_type, ids, values) if ids or values else [],
        owners=await import_store.users_by_email(conn, owners) if owners else {},
        pipelines=await pipeline_store.list_pipelines(conn) if object_type is ObjectType.DEAL else (),
        settings=(
            await lifecycle_store.get_settings(conn)
            if object_type in (ObjectType.CONTACT, ObjectType.COMPANY)
            else LifecycleSettings()
        ),
    )


async def _gate(
    ctx: Context, conn: Conn, writes: list[Write]
) -> tuple[list[Write], list[RowError], dict[int, deals.Placement]]:
    """DESIGN 4, 5: every placed or moved deal through the one move decision (resolvers.deals.place):
    once per (pipeline, stage) for new deals, per deal for moves. Returns the kept writes, the refused
    rows and the accepted placements by line."""
    new_verdicts: dict[tuple[int, int], deals.Placement | Problem] = {}
    kept: list[Write] = []
    refused: list[RowError] = []
    placed: dict[int, deals.Placement] = {}
    for w in writes:
        pipeline_id, to = int(str(w.values["pipeline_id"])), int(str(w.values["stage_id"]))
        if w.before is not None and w.before.get("stage_id") == to:
            kept.append(w)
            continue
        if w.before is None:
            if (pipeline_id, to) not in new_verdicts:
                new_verdicts[pipeline_id, to] = await _place(ctx, conn, None, to, pipeline_id, w.owner_id)
            verdict = new_verdicts[pipeline_id, to]
            if isinstance(verdict, deals.Placement) and verdict.move.start is not None:
                verdict = await _place(ctx, conn, None, to, pipeline_id, w.owner_id)  # owner-specific start
        else:
            verdict = await _place(ctx, conn, w.before, to, pipeline_id, w.owner_id)
        if isinstance(verdict, Problem):
            refused.append(RowError(w.line, f"Deal stage: {verdict.message}", verdict.code))
            continue
        kept.append(w)
        placed[w.line] = verdict
    return kept, refused, placed


async def _place(
    ctx: Context, conn: Conn, before: Record | None, to: int, pipeline_id: int, owner_id: int | None
) -> deals.Placement | Problem:
    if before is not None:
        before = replace(before, owner_id=owner_id)
    try:
        return await deals.place(ctx, conn, before, to, pipeline_id=pipeline_id, owner_id=owner_id)
    except Refusal as exc:
        return exc.refused.problems[0]


async def _effects(
    ctx: Context,
    conn: Conn,
    created: Sequence[tuple[Record, Write]],
    updated: Sequence[tuple[Record, Record, Write]],
    placed: dict[int, deals.Placement],
) -> list[NewEvent]:
    """What the API does after each change, except that no one is notified of an assignment (seed 003).
    The bulk write came first, so an approval a deal starts sets the deal's status in a second write."""
    events: list[NewEvent] = []
    started: dict[str, list[int]] = {}
    for deal, w in created:
        placement = placed.get(w.line)
        if placement is None:
            events.append(deal_event("created", deal))
            continue
        placement = placement.for_deal(deal.id)
        events += await deals.after_placed(ctx, conn, None, _with_status(deal, placement), placement)
        _collect(started, deal.id, placement)
    for before, after, w in updated:
        placement = placed.get(w.line)
        if placement is None:
            events += await effects.after_update(ctx, conn, before, after)
            continue
        events += await deals.after_placed(ctx, conn, before, _with_status(after, placement), placement)
        _collect(started, after.id, placement)
    for status, ids in started.items():
        await approval_store.set_deal_status(conn, ids, status)
    return events


def _with_status(deal: Record, placement: deals.Placement) -> Record:
    status = placement.move.approval_status
    if status is None:
        return deal
    return replace(deal, values={**deal.values, "latest_approval_status": status.value})


def _collect(started: dict[str, list[int]], deal_id: int, placement: deals.Placement) -> None:
    status = placement.move.approval_status
    if status is not None:
        started.setdefault(status.value, []).append(deal_id)
