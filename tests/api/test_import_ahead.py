"""A batch written ahead (while the batch before it still writes) leaves what one batch at a time leaves.

The runner writes batch N+1 while batch N commits (resolvers.import_batch.run_ahead); one batch at a time
(`ImportRunner(write_ahead=False)`) is the general path it must equal. Each file below mixes what makes
two batches meet: a key claimed in one batch and repeated in the next, one record matched by id in one
batch and by email in the next, a row the database refuses (its batch is written again row by row, so
the batch ahead gives way), bad rows, owners and stage changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from db import events as event_store
from db import imports as import_store
from db import users as user_store
from db.pool import create_pool
from domain.records import ObjectType
from resolvers import import_batch
from resolvers import imports as use_cases
from resolvers.context import Context
from resolvers.result import Ok
from tests.api.test_imports import services_on
from tests.harness import clone_database, drop_database, dsn_for, server_dsn

BATCH = 4  # rows per batch: the files below span several batches, each meeting the next


async def seed(pool: asyncpg.Pool) -> int:
    """The importer (a super admin), an owner, and records the files update; returns the importer's id."""
    async with pool.acquire() as conn:
        importer = await user_store.insert_user(
            conn, email="importer@example.com", name="I", is_super_admin=True
        )
        await user_store.insert_user(conn, email="owner@example.com", name="Owner")
        await conn.execute(
            "INSERT INTO contacts (id, email, first_name, lifecycle_stage) VALUES"
            " (9001, 'old1@example.com', 'Old', 'LEAD'), (9002, 'old2@example.com', 'Old', NULL),"
            " (9003, 'old3@example.com', 'Old', 'SUBSCRIBER')"
        )
        stage = await conn.fetchval(
            "SELECT s.id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id"
            " WHERE p.label = 'Sales pipeline' AND s.label = 'Appointment scheduled'"
        )
        pipeline = await conn.fetchval("SELECT id FROM pipelines WHERE label = 'Sales pipeline'")
        await conn.execute(
            "INSERT INTO deals (id, name, pipeline_id, stage_id) VALUES ($1, 'Old deal', $2, $3), (9102, 'Other', $2, $3)",
            9101, pipeline, stage,
        )  # fmt: skip
        await conn.execute("ALTER TABLE contacts ADD CONSTRAINT no_mallory CHECK (first_name <> 'Mallory')")
        await conn.execute("ALTER TABLE deals ADD CONSTRAINT no_mallory CHECK (name <> 'Mallory')")
    return importer.id


CONTACTS = (
    "Record ID,Email,First name,Lifecycle stage,Contact owner\n"
    ",new1@example.com,A,lead,owner@example.com\n"
    ",m@example.com,Mallory,,\n"  # refused by the database: batch 1 is written again row by row
    "9001,,Renamed by id,,\n"
    ",new2@example.com,B,,ghost@example.com\n"  # an unknown owner
    ",NEW1@example.com,Again,,\n"  # batch 2 repeats a key of batch 1
    ",OLD1@example.com,Renamed by email,customer,\n"  # batch 2 matches by email what batch 1 matched by id
    ",not an email,C,,\n"
    ",new3@example.com,D,opportunity,owner@example.com\n"
    "9002,old2@example.com,Both keys,lead,\n"
    ",new4@example.com,E,,\n"
    ",new3@example.com,Dup,,\n"
    "9003,,,customer,owner@example.com\n"
    ",new5@example.com,F,,\n"
    ",old2@example.com,Third,,\n"
    ",new6@example.com,G,lead,\n"
    ",m2@example.com,Mallory,,\n"  # refused in a batch written ahead: it gives way
    ",new8@example.com,I,,\n"
    + "".join(f",plain{i}@example.com,P,,\n" for i in range(12))  # batches written ahead and kept
)
DEALS = (
    "Record ID,Deal name,Amount,Pipeline,Deal stage,Deal owner\n"
    ",New A,10,Sales pipeline,Appointment scheduled,owner@example.com\n"
    ",Mallory,5,Sales pipeline,Appointment scheduled,\n"  # refused by the database
    "9101,Moved,,Sales pipeline,Qualified to buy,\n"
    ",New B,12abc,Sales pipeline,Appointment scheduled,\n"
    "9101,Moved again,20,Sales pipeline,Contract sent,\n"  # batch 2 moves what batch 1 moved
    ",New C,30,Sales pipeline,Closed won,owner@example.com\n"
    ",New D,,Sales pipeline,Negotiation,\n"
    "9102,Other renamed,,Sales pipeline,Appointment scheduled,\n"
    ",New E,40,Sales pipeline,Qualified to buy,\n"
    "9101,Third,,Sales pipeline,Closed lost,\n"
    ",Mallory,50,Sales pipeline,Appointment scheduled,\n"  # refused in a batch written ahead
    ",New G,60,Sales pipeline,Appointment scheduled,\n"
    + "".join(f",Plain {i},{i},Sales pipeline,Qualified to buy,\n" for i in range(12))  # written ahead, kept
)


async def imported(
    template_db: str, object_type: ObjectType, csv: str, *, write_ahead: bool
) -> dict[str, Any]:
    """Import `csv` into a fresh clone; what the database holds afterwards, ids of new records named."""
    name = await clone_database(template_db)
    try:
        pool = await create_pool(dsn_for(server_dsn(), name), min_size=1, max_size=10)
        try:
            importer_id = await seed(pool)
            services = await services_on(pool)

            async def source() -> AsyncIterator[bytes]:
                yield csv.encode()

            ctx = Context(services=services, viewer=await import_store.get_viewer(pool, importer_id))
            started = await use_cases.start_import(ctx, object_type, source())
            assert isinstance(started, Ok)
            runner = use_cases.ImportRunner(services, write_ahead=write_ahead)
            job = await runner.run_once(started.value.id)
            assert job is not None
            return await state(pool, object_type, job)
        finally:
            await pool.close()
    finally:
        await drop_database(name)


async def state(pool: asyncpg.Pool, object_type: ObjectType, job: Any) -> dict[str, Any]:
    table, key = {ObjectType.CONTACT: ("contacts", "email"), ObjectType.DEAL: ("deals", "name")}[object_type]
    records = await pool.fetch(f"SELECT * FROM {table} ORDER BY {key} NULLS FIRST, id")
    named = {r["id"]: f"{object_type.value}:{r[key]}" for r in records}

    def name_ids(value: Any) -> Any:
        """A record's id (given by the order its batch asked for one) as its key; times left out."""
        if isinstance(value, list):
            return [name_ids(v) for v in value]
        if not isinstance(value, dict):
            return value
        shown = {k: name_ids(v) for k, v in value.items() if not k.endswith(("_at", "At")) and k != "at"}
        for k in ("id", "deal_id"):  # a record's own id: in an event's record, deal and approval
            if k in shown and ("type" in value or "stage_id" in value or k == "deal_id"):
                shown[k] = named.get(shown[k], shown[k])
        return shown

    skip = {"id", "created_at", "updated_at", "search_vector", "last_activity_date", "entered_stage_at"}
    await event_store.stamp(pool)  # unstamped events hold pending (negative) sequences
    events = await pool.fetch("SELECT type, payload FROM events ORDER BY sequence")
    return {
        "job": (job.status, job.rows_processed, job.rows_created, job.rows_updated, job.error_count),
        "records": [name_ids({k: v for k, v in dict(r).items() if k not in skip}) for r in records],
        "history": [
            (
                named.get(h["object_id"], h["object_id"]),
                h["name"],
                h["old_value"],
                h["new_value"],
                h["source"],
            )
            for h in await pool.fetch("SELECT * FROM property_history ORDER BY object_id, name, id")
        ],
        "events": [(e["type"], name_ids(payload(e["payload"]))) for e in events],
        "errors": [
            tuple(r) for r in await pool.fetch("SELECT line, code, message FROM import_errors ORDER BY line")
        ],
        "approvals": [
            (named.get(r["deal_id"]), r["status"])
            for r in await pool.fetch("SELECT deal_id, status FROM deal_approvals ORDER BY deal_id, id")
        ],
    }


def payload(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize(("object_type", "csv"), [(ObjectType.CONTACT, CONTACTS), (ObjectType.DEAL, DEALS)])
async def test_a_batch_written_ahead_leaves_what_one_batch_at_a_time_leaves(
    template_db: str, monkeypatch: pytest.MonkeyPatch, object_type: ObjectType, csv: str
) -> None:
    monkeypatch.setattr(use_cases, "BATCH_SIZE", BATCH)
    written_ahead: list[bool] = []

    def observed(write: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(*args: Any, **kwargs: Any) -> Any:
            turn: import_batch.Turn = args[4]
            job = await write(*args, **kwargs)
            written_ahead.append(not turn.again.is_set())  # False: it gave way and was written again
            return job

        return run

    alone = await imported(template_db, object_type, csv, write_ahead=False)
    assert written_ahead == []
    monkeypatch.setattr(use_cases, "run_ahead", observed(import_batch.run_ahead))
    ahead = await imported(template_db, object_type, csv, write_ahead=True)
    assert ahead == alone
    assert alone["job"][0] == "DONE" and alone["errors"] and alone["history"]
    assert True in written_ahead and False in written_ahead, written_ahead  # both ways were taken
