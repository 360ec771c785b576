"""CSV imports: start a job from a file, read and follow its progress, and the runner that works it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from typing import cast

import asyncpg

from db import events as event_store
from db import imports as import_store
from db.errors import NotFound
from domain.codes import RuleCode
from domain.events import StoredEvent
from domain.imports import FINISHED, ImportJob, ImportStatus, Raw, RecordSplitter, RowError, map_headers
from domain.records import ObjectType
from subscriptions import streams
from subscriptions.waking import next_turn

from .context import Context, Services
from .import_batch import (
    JOB_EVENT,
    LEASE_SECONDS,
    Ahead,
    LeaseLost,
    Turn,
    first_of,
    job_event,
    job_from_event,
    parse_batch,
    run_ahead,
    run_batch,
)
from .result import Ok, Refusal, Refused, Result, use_case

# Failures that say nothing about the file: the job resumes from its last committed batch.
TRANSIENT = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.QueryCanceledError,  # statement_timeout on a big batch, or a cancel
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # the file is stored, and read back, about 1 MB at a time
BATCH_SIZE = 2000
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 3  # claims of one job (each after a runner died holding it) before it fails
FINISHED_EVENT = "import.finished"

Progress = Callable[[ImportJob], None]
_RUNNERS: weakref.WeakSet[ImportRunner] = weakref.WeakSet()


async def _rechunk(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for piece in source:
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


@use_case
async def start_import(
    ctx: Context, object_type: ObjectType, source: AsyncIterable[bytes], *, claimed_by: str | None = None
) -> Result[ImportJob]:
    """Store the file chunk by chunk, counting its rows, and queue the job (or hand it to `claimed_by`)."""
    splitter = RecordSplitter()
    header: list[str] | None = None
    rows = 0

    def tally(records: Iterable[Raw]) -> None:
        nonlocal header, rows
        for raw in records:
            if header is None:
                header = raw.cells
            else:
                rows += 1

    async with ctx.pool.acquire() as conn, conn.transaction():
        import_id = await import_store.insert_import(conn, object_type, ctx.me.id)
        seq = 0
        async for chunk in _rechunk(source):
            await import_store.insert_chunk(conn, import_id, seq, chunk)
            seq += 1
            tally(splitter.feed(chunk))
        tally(splitter.feed(b"", final=True))
        mapping = map_headers(object_type, header or [])
        if not mapping.columns:
            kind = object_type.value.lower()
            message = f"no column of the file is a {kind} property" if header else "the file is empty"
            raise Refusal(Refused.one(RuleCode.INVALID, message, ("file",)))
        job = await import_store.queue_import(
            conn, import_id, rows, mapping.warnings(), claimed_by, LEASE_SECONDS
        )
        await event_store.append(conn, [job_event(job)])
    ctx.committed()
    for runner in list(_RUNNERS):
        runner.wake()
    return Ok(job)


async def get_import(ctx: Context, import_id: int) -> ImportJob | None:
    """An import is seen by the user who started it, and by super admins."""
    job = await import_store.get_import(ctx.pool, import_id)
    if job is None or (job.created_by != ctx.me.id and not ctx.me.user.is_super_admin):
        return None
    return job


async def list_errors(ctx: Context, job: ImportJob, first: int | None, after_line: int) -> list[RowError]:
    return await import_store.list_errors(ctx.pool, job.id, first, after_line)


async def follow(ctx: Context, import_id: int) -> AsyncIterator[ImportJob]:
    """The import as it is now, then each step of its progress, until it finishes."""
    after = await event_store.head(ctx.pool)
    job = await get_import(ctx, import_id)
    if job is None:
        raise NotFound("import", import_id)
    yield job
    if job.status in FINISHED:
        return
    mine = streams.events(
        ctx.pool, ctx.services.bus, after, lambda e: e.import_id == import_id and e.type.startswith("import.")
    )
    async with contextlib.aclosing(cast(AsyncGenerator[StoredEvent, None], mine)) as events:
        async for event in events:
            newer = job_from_event(event.payload)
            if newer.progress() > job.progress():  # an event older than the first read is skipped
                job = newer
                yield job
                if job.status in FINISHED:
                    return


async def _records(pool: asyncpg.Pool, import_id: int) -> AsyncIterator[Raw]:
    splitter = RecordSplitter()
    seq = 0
    while (chunk := await import_store.get_chunk(pool, import_id, seq)) is not None:
        for raw in splitter.feed(chunk):
            yield raw
        seq += 1
    for raw in splitter.feed(b"", final=True):
        yield raw


async def _batches(records: AsyncIterator[Raw], skip: int) -> AsyncIterator[list[Raw]]:
    """Batches of BATCH_SIZE records, after the `skip` a previous runner committed before it stopped."""
    batch: list[Raw] = []
    async for raw in records:
        if skip:
            skip -= 1
            continue
        batch.append(raw)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


class ImportRunner:
    """Claims jobs with FOR UPDATE SKIP LOCKED and a lease it renews with every batch, so several
    processes never run one job at once, and a job a dead process held is resumed after its last batch."""

    def __init__(self, services: Services, *, name: str | None = None, write_ahead: bool = True) -> None:
        self.services = services
        self.write_ahead = write_ahead  # False: each batch starts after the one before has committed
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        _RUNNERS.add(self)
        self._task = asyncio.create_task(self._run(), name="import-runner")

    async def stop(self) -> None:
        _RUNNERS.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await import_store.release_imports(self.services.pool, self.name)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await next_turn(self._wake, POLL_SECONDS)
            try:
                while await self.run_once() is not None:
                    pass
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                logger.warning("import runner could not reach the database; retrying", exc_info=True)
            except Exception:  # a runner that dies silently leaves every later job waiting
                logger.exception("import runner failed; retrying")

    async def run_once(
        self, import_id: int | None = None, on_progress: Progress | None = None
    ) -> ImportJob | None:
        """Claim one due job (or this one, if due) and work it to the end; None when there was none."""
        claimed = await import_store.claim_import(self.services.pool, self.name, LEASE_SECONDS, import_id)
        if claimed is None:
            return None
        job, attempts = claimed
        if attempts > MAX_ATTEMPTS:
            return await self._finish(job, ImportStatus.FAILED, f"stopped {MAX_ATTEMPTS} times; giving up")
        return await self.work(job, on_progress)

    async def work(self, job: ImportJob, on_progress: Progress | None = None) -> ImportJob:
        """Work a job this runner holds (claimed, or handed over by start_import) to its end."""
        try:
            return await self._work(job, on_progress or (lambda _: None))
        except LeaseLost:
            logger.warning("import %s: another runner took it over", job.id)
            return job
        except TRANSIENT:
            raise  # the database is away or the batch was cancelled: the lease runs out, the job resumes
        except Exception:
            logger.exception("import %s failed", job.id)
            return await self._finish(job, ImportStatus.FAILED, "an unexpected error stopped the import")

    async def _work(self, job: ImportJob, on_progress: Progress) -> ImportJob:
        viewer = await import_store.get_viewer(self.services.pool, job.created_by)
        if viewer is None or not viewer.user.active:
            return await self._finish(
                job, ImportStatus.FAILED, "the user who started the import is deactivated"
            )
        ctx = Context(services=self.services, viewer=viewer)
        records = _records(self.services.pool, job.id)
        header = await anext(records, None)
        mapping = map_headers(job.object_type, header.cells if header else [])
        on_progress(job)
        writing: asyncio.Future[ImportJob] | None = None  # the batch being written, in `turn`
        turn, after = Turn(), job.rows_processed  # `after`: rows in once `writing` commits
        try:
            async for raws in _batches(records, job.rows_processed):
                parsed = await parse_batch(mapping, raws)  # while the batches before write
                if writing is not None:
                    # until it holds its records (or is done); one at a time: until it is done
                    await first_of(writing, turn.held if self.write_ahead else asyncio.Event())
                    if turn.again.is_set():  # it writes again: the next batch waits for it, as it did
                        await asyncio.wait([writing])
                    if writing.done():
                        job, writing = await writing, None
                        on_progress(job)
                if writing is None:
                    turn, after = Turn(), job.rows_processed + parsed.count
                    writing = asyncio.ensure_future(run_batch(ctx, self.name, job, parsed, turn))
                    continue
                ahead = Ahead(writing, turn, after)
                turn, after = Turn(), after + parsed.count
                following = asyncio.ensure_future(run_ahead(ctx, self.name, job, parsed, turn, ahead))
                try:
                    job = await writing
                finally:
                    writing = following  # should the batch before fail, the `finally` below stops this one
                on_progress(job)
            if writing is not None:
                job, writing = await writing, None
        finally:
            if writing is not None:
                writing.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await writing
        job = await self._finish(job, ImportStatus.DONE)
        on_progress(job)
        return job

    async def _finish(self, job: ImportJob, status: ImportStatus, failure: str | None = None) -> ImportJob:
        async with self.services.pool.acquire() as conn, conn.transaction():
            done = await import_store.finish_import(conn, job.id, self.name, status, failure)
            if done is None:
                raise LeaseLost(job.id)
            await event_store.append(conn, [job_event(done, FINISHED_EVENT)])
        self.services.relay.wake()
        return done


__all__ = ["JOB_EVENT", "ImportRunner", "follow", "get_import", "list_errors", "start_import"]
