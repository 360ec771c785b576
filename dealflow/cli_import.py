"""`dealflow import`: a CSV file through the import runner, with a progress bar and a summary table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from domain.imports import ImportJob, ImportStatus, RowError
from domain.records import ObjectType

from . import heap
from .cli_env import err, fail, migrated_pool, out
from .settings import Settings

ERRORS_SHOWN = 10  # the first bad rows listed at the end; the API's import(id) has them all


def summary_table(job: ImportJob, errors: Sequence[RowError]) -> Table:
    table = Table(title=f"import {job.id}: {job.status.value.lower()}", title_justify="left")
    for column in ("rows", "created", "updated", "failed"):
        table.add_column(column, justify="right")
    table.add_row(
        *(f"{n:,}" for n in (job.rows_processed, job.rows_created, job.rows_updated, job.error_count))
    )
    return table


def errors_table(errors: Sequence[RowError], total: int) -> Table:
    shown = f"first {len(errors)} of {total:,}" if total > len(errors) else f"{total:,}"
    table = Table(title=f"rows with errors ({shown})", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("error")
    table.add_column("code")
    for e in errors:
        table.add_row(str(e.line), e.message, e.code.value)
    return table


def run_import(settings: Settings, object_type: ObjectType, path: Path, as_email: str | None) -> int:
    """Import path; the exit code is 0 only when every row was imported."""
    from broadcaster import Broadcast

    from db import events as event_store
    from db.imports import find_importer
    from domain.records import Viewer
    from resolvers import imports
    from resolvers.context import Context, Services
    from resolvers.mailer import Mailer
    from resolvers.result import Ok
    from subscriptions.bus import EventBus
    from subscriptions.relay import Relay

    async def read() -> AsyncIterator[bytes]:
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, imports.CHUNK_BYTES):
                yield chunk

    async def run() -> int:
        async with migrated_pool(settings, max_size=4) as pool:
            user = await find_importer(pool, as_email)
            if user is None:
                raise fail("import", f"no user {as_email or '(no super admin yet)'}")
            bus = EventBus(Broadcast("memory://"))  # a running server's relay publishes the events
            services = Services(pool=pool, bus=bus, relay=Relay(pool, bus), mailer=Mailer(pool, None))
            runner = imports.ImportRunner(services)
            ctx = Context(services=services, viewer=Viewer(user=user))
            started = await imports.start_import(ctx, object_type, read(), claimed_by=runner.name)
            if not isinstance(started, Ok):
                raise fail("import", started.problems[0].message)
            label = f"{object_type.value.lower()}s"
            with Progress(
                TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("rows"), TaskProgressColumn(),
                console=err,
            ) as progress:  # fmt: skip
                task = progress.add_task(label, total=None)

                def show(job: ImportJob) -> None:
                    progress.update(task, total=job.rows_total, completed=job.rows_processed)

                heap.freeze_start_up()
                job = await runner.work(started.value, on_progress=show)
                show(job)
            await event_store.stamp(pool)  # the import's events, for a running server's relay to publish
            errors = await imports.list_errors(ctx, job, ERRORS_SHOWN, 0)
            for warning in job.warnings:
                err.print(f"warning: {warning}", markup=False)
            out.print(summary_table(job, errors))
            if errors:
                out.print(errors_table(errors, job.error_count))
            if job.failure:
                err.print(f"dealflow import: failed: {job.failure}", markup=False)
            return 0 if job.status is ImportStatus.DONE and job.error_count == 0 else 1

    return heap.run(run())
