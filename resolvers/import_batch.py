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

from db import events as event_store
from db import imports as import_store
from db import lifecycle as lifecycle_store
from db import pipelines as pipeline_store
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
from domain.records import ChangeSource, ObjectType, Pipeline, Record

from . import approvals, effects, workflows
from .context import Context
from .result import Problem, Refusal
from .snapshots import as_text, camel, deal_event, history_rows

HistoryRow = tuple[int, str, str | None, str | None]
JOB_EVENT = "import.progress"
LEASE_SECONDS = 60.0  # a runner renews its lease with every batch
RETRIES = 3  # a batch that lost a dedupe or lock race to another writer runs again
# What the database says about a value rather than about itself: one row's fault, never the job's.
ROW_REFUSED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


class LeaseLost(Exception):
    """Another runner holds the job now (this one was too slow to renew its lease)."""


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


async def run_batch(ctx: Context, runner: str, job: ImportJob, batch: Parsed) -> ImportJob:
    """Write a parsed batch in one transaction; a row error never stops the other rows. Should the
    database still refuse a row the checks let through, the batch is written row by row and that
    row alone is reported: the job never fails for one row (DESIGN 3)."""
    try:
        return await _run_batch(ctx, runner, job, batch)
    except ROW_REFUSED:
        if not batch.rows:
            raise
    saved = await _run_batch(ctx, runner, job, Parsed([], batch.errors, batch.count - len(batch.rows)))
    for row in batch.rows:
        try:
            saved = await _run_batch(ctx, runner, saved, Parsed([row], [], 1))
        except ROW_REFUSED as exc:
            refused = RowError(row.line, f"the database refused the row (SQLSTATE {exc.sqlstate})")
            saved = await _run_batch(ctx, runner, saved, Parsed([], [refused], 1))
    return saved


async def _run_batch(ctx: Context, runner: str, job: ImportJob, batch: Parsed) -> ImportJob:
    for attempt in range(RETRIES):
        try:
            async with ctx.pool.acquire() as conn, conn.transaction():
                saved = await _write(ctx, conn, runner, job, batch)
            break
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            if attempt == RETRIES - 1:
                raise
    ctx.committed()
    return saved


async def _write(ctx: Context, conn: Conn, runner: str, job: ImportJob, batch: Parsed) -> ImportJob:
    object_type = job.object_type
    if await import_store.lock_job(conn, job.id, runner, LEASE_SECONDS) is None:
        raise LeaseLost(job.id)
    firsts: dict[str, int] = {}
    for row in batch.rows:
        for key in row.keys(object_type):
            firsts.setdefault(key, row.line)
    earlier = await import_store.claim_keys(conn, job.id, firsts)
    unique, duplicates = first_occurrences(object_type, batch.rows, earlier)
    found = await _found(conn, object_type, unique)
    writes, refused = plan(object_type, unique, found, ctx.me)
    if object_type is ObjectType.DEAL:
        writes, gated = await _gate(conn, writes, found.pipelines)
        refused += gated
    new = [w for w in writes if w.before is None]
    changed = [w for w in writes if w.before is not None and w.changed]
    created, updated, history, events = await _save(conn, object_type, new, changed)
    await import_store.copy_history(
        conn, object_type, history, source=ChangeSource.IMPORT, changed_by=ctx.me.id
    )
    events += await _effects(ctx, conn, created, updated, found.pipelines)
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
) -> tuple[list[Record], list[tuple[Record, Record]], list[HistoryRow], list[NewEvent]]:
    """Insert and update; the new records' history and events are made while the INSERT runs."""
    if not new and not changed:
        return [], [], [], []
    ids, now = await import_store.next_ids(conn, object_type, len(new))
    created = [import_store.new_record(object_type, i, w, now) for i, w in zip(ids, new, strict=True)]
    inserting = asyncio.ensure_future(import_store.insert_records(conn, object_type, ids, new))
    try:
        await asyncio.sleep(0)
        shown = [texts(r) for r in created]
        history = [h for r, t in zip(created, shown, strict=True) for h in created_history(r, t)]
        events = [
            created_event(r, t) for r, t in zip(created, shown, strict=True) if r.type is not ObjectType.DEAL
        ]
    finally:
        await inserting
    await import_store.update_records(conn, object_type, changed)
    updated = [(w.before, _after(w, now)) for w in changed if w.before is not None]
    history += [h for before, after in updated for h in history_rows(before, after)]
    return created, updated, history, events


def _after(write: Write, now: datetime) -> Record:
    assert write.before is not None
    values = {**write.before.values, **write.values}
    return replace(
        write.before, values=values, owner_id=write.owner_id, version=write.before.version + 1, updated_at=now
    )


def created_history(record: Record, texts: Mapping[str, str | None]) -> list[HistoryRow]:
    """snapshots.history_rows(None, record) for a new record without custom properties, made faster."""
    rows: list[HistoryRow] = [(record.id, _camel(c), None, t) for c, t in texts.items() if t is not None]
    if record.owner_id is not None:
        rows.append((record.id, "ownerId", None, str(record.owner_id)))
    return rows


def created_event(record: Record, texts: Mapping[str, str | None]) -> NewEvent:
    """effects.record_event("created", None, record), made faster."""
    changes = {c: [None, t] for c, t in texts.items()}
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
    conn: Conn, writes: list[Write], pipelines: Sequence[Pipeline]
) -> tuple[list[Write], list[RowError]]:
    """DESIGN 4, 5: the approval gate, once per (pipeline, stage) for new deals, per deal for moves."""
    by_id = {p.id: p for p in pipelines}
    verdicts: dict[tuple[int, int], Problem | None] = {}
    kept: list[Write] = []
    refused: list[RowError] = []
    for w in writes:
        pipeline, to = by_id[int(str(w.values["pipeline_id"]))], int(str(w.values["stage_id"]))
        if w.before is None:
            if (pipeline.id, to) not in verdicts:
                verdicts[pipeline.id, to] = await _check(conn, pipeline, None, None, to)
            verdict = verdicts[pipeline.id, to]
        else:
            at = int(str(w.before.get("stage_id")))
            verdict = None if at == to else await _check(conn, pipeline, w.before.id, at, to)
        if verdict is None:
            kept.append(w)
        else:
            refused.append(RowError(w.line, f"Deal stage: {verdict.message}", verdict.code))
    return kept, refused


async def _check(
    conn: Conn, pipeline: Pipeline, deal_id: int | None, at: int | None, to: int
) -> Problem | None:
    try:
        await approvals.move_check(conn, pipeline, deal_id, at, to)
    except Refusal as exc:
        return exc.refused.problems[0]
    return None


async def _effects(
    ctx: Context,
    conn: Conn,
    created: Sequence[Record],
    updated: Sequence[tuple[Record, Record]],
    pipelines: Sequence[Pipeline],
) -> list[NewEvent]:
    """What the API does after each change, except that no one is notified of an assignment (seed 003)."""
    approval_stages = {s.id for p in pipelines for s in p.stages if s.is_approval_stage}
    events: list[NewEvent] = []
    for deal in (r for r in created if r.type is ObjectType.DEAL):
        events.append(deal_event("created", deal))
        if deal.get("stage_id") in approval_stages:
            events += await approvals.on_stage_entered(ctx, conn, deal, None)
    for before, after in updated:
        events += await effects.after_update(ctx, conn, before, after)
    return events
