"""CSV imports over the API: matching, owners, row errors, the gate, progress, uploads, runners (seed 003)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from broadcaster import Broadcast

from db import imports as import_store
from db import records as record_store
from db import users as user_store
from db.pool import decode_json, encode_json
from dealflow.settings import Settings
from domain.records import ObjectType, Scope, Viewer
from resolvers import import_batch
from resolvers import imports as use_cases
from resolvers.context import Context, Services
from resolvers.effects import record_event
from resolvers.mailer import Mailer
from resolvers.result import Ok
from resolvers.snapshots import history_rows
from subscriptions.bus import EventBus
from subscriptions.relay import Relay
from tests.api.test_approvals import setup
from tests.api.test_cli import ROOT, dealflow
from tests.harness import Client, Harness, db_id, gid, live_server

START = """
mutation($input: StartImportInput!) {
  startImport(input: $input) { import { id status rowsTotal } userErrors { field message code } }
}"""
IMPORT_FIELDS = "id objectType status rowsTotal rowsProcessed rowsCreated rowsUpdated warnings errors { line message code }"
IMPORT = f"query($id: ID!) {{ import(id: $id) {{ {IMPORT_FIELDS} }} }}"
PROGRESS = f"subscription($id: ID!) {{ importProgress(importId: $id) {{ {IMPORT_FIELDS} }} }}"
CONTACT = (
    "query($id: ID!) { contact(id: $id) { email firstName lastName lifecycleStage owner { id } version } }"
)
HISTORY = 'query($id: ID!) { contact(id: $id) { propertyHistory(name: "firstName") { newValue source changedBy { id } } } }'
DEAL = "query($id: ID!) { deal(id: $id) { name amount stage { label } latestApprovalStatus } }"


async def start(client: Client, object_type: str, csv: str) -> str:
    started = (await client(START, {"input": {"objectType": object_type, "csv": csv}}))["startImport"]
    assert started["userErrors"] == [], started
    import_id: str = started["import"]["id"]
    return import_id


async def finished(client: Client, import_id: str, timeout: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            found: dict[str, Any] = (await client(IMPORT, {"id": import_id}))["import"]
            if found["status"] in ("DONE", "FAILED"):
                return found
            await asyncio.sleep(0.05)


async def run_import(client: Client, object_type: str, csv: str) -> dict[str, Any]:
    return await finished(client, await start(client, object_type, csv))


async def contact_id(app: Harness, email: str) -> str:
    return str(await app.pool.fetchval("SELECT id FROM contacts WHERE lower(email) = lower($1)", email))


def errors(job: dict[str, Any]) -> dict[int, str]:
    return {e["line"]: e["message"] for e in job["errors"]}


async def test_columns_match_by_standard_label_and_by_property_name(app: Harness) -> None:
    client = await app.user()
    job = await run_import(
        client, "CONTACT", "EMAIL,firstName,Last name,Favourite colour\nada@example.com,Ada,Lovelace,blue\n"
    )
    assert (job["status"], job["rowsCreated"], job["errors"]) == ("DONE", 1, [])
    assert job["warnings"] == ["column 'Favourite colour' is not a contact property and was ignored"]
    contact = (await client(CONTACT, {"id": await contact_id(app, "ada@example.com")}))["contact"]
    assert (contact["firstName"], contact["lastName"]) == ("Ada", "Lovelace")


async def test_rows_update_by_record_id_else_by_email_case_insensitively_else_create(app: Harness) -> None:
    client = await app.user()
    await run_import(client, "CONTACT", "Email,First name\nada@example.com,Ada\ngrace@example.com,Grace\n")
    ada, grace = await contact_id(app, "ada@example.com"), await contact_id(app, "grace@example.com")
    csv = f"Record ID,Email,First name\n{ada},ada@new.example.com,Augusta\n,GRACE@Example.com,Amazing Grace\n,alan@example.com,Alan\n"
    job = await run_import(client, "CONTACT", csv)
    assert (job["rowsCreated"], job["rowsUpdated"], job["errors"]) == (1, 2, [])
    assert (await client(CONTACT, {"id": ada}))["contact"]["email"] == "ada@new.example.com"
    updated = (await client(CONTACT, {"id": grace}))["contact"]
    assert (updated["firstName"], updated["email"], updated["version"]) == (
        "Amazing Grace",
        "grace@example.com",
        2,
    )
    assert await app.pool.fetchval("SELECT count(*) FROM contacts") == 3


async def test_the_owner_column_takes_a_users_email_and_an_unknown_owner_is_reported_with_its_line(
    app: Harness,
) -> None:
    client = await app.user()
    owner = await app.user("Owner@Example.com")
    csv = "Email,Contact owner\na@example.com,owner@example.com\nb@example.com,nobody@example.com\n"
    job = await run_import(client, "CONTACT", csv)
    assert (job["rowsCreated"], errors(job)) == (
        1,
        {3: "Contact owner: no user with email nobody@example.com"},
    )
    contact = (await client(CONTACT, {"id": await contact_id(app, "a@example.com")}))["contact"]
    assert contact["owner"] == {"id": gid("User", owner.user_id)}


async def test_an_assignment_by_import_sends_no_notification(app: Harness) -> None:
    client = await app.user()
    first, then = await app.user("first@example.com"), await app.user("then@example.com")
    await run_import(client, "CONTACT", "Email,Contact owner\na@example.com,first@example.com\n")
    cid = await contact_id(app, "a@example.com")
    job = await run_import(client, "CONTACT", f"Record ID,Contact owner\n{cid},then@example.com\n")
    assert job["rowsUpdated"] == 1
    assert (await client(CONTACT, {"id": cid}))["contact"]["owner"] == {"id": gid("User", then.user_id)}
    assert await app.pool.fetchval("SELECT count(*) FROM notifications") == 0
    assert await app.pool.fetchval("SELECT count(*) FROM email_outbox") == 0
    assert first.user_id != then.user_id


async def test_bad_contact_rows_are_reported_with_line_and_reason_and_good_rows_are_kept(
    app: Harness,
) -> None:
    client = await app.user()
    csv = (
        "Email,First name,Lifecycle stage\n"
        "good@example.com,Good,Lead\n"
        "not an email,Bad,\n"
        "other@example.com,Other,Prospect\n"
        "GOOD@example.com,Again,\n"
        "last@example.com,Last,customer\n"
    )
    job = await run_import(client, "CONTACT", csv)
    assert (job["rowsProcessed"], job["rowsCreated"]) == (5, 2)
    assert errors(job) == {
        3: "Email: 'not an email' is not a valid email address",
        4: "Lifecycle stage: 'Prospect' is not a lifecycle stage",
        5: "duplicate of line 2: email good@example.com appears twice in the file",
    }
    assert [e["code"] for e in job["errors"]] == ["INVALID", "INVALID", "DUPLICATE"]


async def test_bad_deal_rows_are_reported_with_line_and_reason_and_good_rows_are_kept(app: Harness) -> None:
    client = await app.user()
    csv = (
        "Deal name,Amount,Close date,Pipeline,Deal stage\n"
        "Good,1200.50,2026-03-01,Sales pipeline,Qualified to buy\n"
        "Bad amount,12abc,,Sales pipeline,Qualified to buy\n"
        "Bad date,10,31/02/2026,Sales pipeline,Qualified to buy\n"
        "Bad stage,10,,Sales pipeline,Negotiation\n"
        'Quoted "name",5,2026-03-01T10:00:00Z,sales PIPELINE,appointment scheduled\n'
    )
    job = await run_import(client, "DEAL", csv)
    assert (job["rowsCreated"], sorted(errors(job))) == (2, [3, 4, 5])
    assert errors(job)[3] == "Amount: '12abc' is not a number"
    assert errors(job)[4].startswith("Close date: '31/02/2026' is not a date")
    assert errors(job)[5] == "Deal stage: no stage 'Negotiation' in pipeline 'Sales pipeline'"
    names = {r["name"]: r for r in await app.pool.fetch("SELECT name, amount FROM deals")}
    assert set(names) == {"Good", 'Quoted "name"'} and str(names["Good"]["amount"]) == "1200.50"


async def test_a_new_deal_past_the_approval_stage_is_refused_per_row(app: Harness) -> None:
    s = await setup(app)
    owner = f"{(await s.owner('{ viewer { email } }'))['viewer']['email']}"
    csv = (
        "Deal name,Pipeline,Deal stage,Deal owner\n"
        f"Early,{s.pipeline['id']},Appointment scheduled,{owner}\n"
        f"Late,Sales pipeline,Contract sent,{owner}\n"
        f"Lost,Sales pipeline,Closed lost,{owner}\n"
        f"Pending,Sales pipeline,{s.stages['Pending approval']},{owner}\n"
    )
    job = await run_import(s.admin, "DEAL", csv)
    assert job["rowsCreated"] == 3
    assert [(e["line"], e["code"]) for e in job["errors"]] == [(3, "APPROVAL_REQUIRED")]
    pending = await app.pool.fetchval("SELECT id FROM deals WHERE name = 'Pending'")
    assert (await s.admin(DEAL, {"id": str(pending)}))["deal"]["latestApprovalStatus"] == "PENDING"
    early = await app.pool.fetchval("SELECT id FROM deals WHERE name = 'Early'")
    moved = await run_import(s.admin, "DEAL", f"Record ID,Deal stage\n{early},Contract sent\n")
    assert [(e["line"], e["code"]) for e in moved["errors"]] == [(2, "APPROVAL_REQUIRED")]
    assert (await s.admin(DEAL, {"id": str(early)}))["deal"]["stage"]["label"] == "Appointment scheduled"


async def test_imported_changes_are_recorded_in_history_with_source_import(app: Harness) -> None:
    client = await app.user()
    await run_import(client, "CONTACT", "Email,First name\nada@example.com,Ada\n")
    history = (await client(HISTORY, {"id": await contact_id(app, "ada@example.com")}))["contact"][
        "propertyHistory"
    ]
    assert history == [
        {"newValue": "Ada", "source": "IMPORT", "changedBy": {"id": gid("User", client.user_id)}}
    ]


async def test_an_imported_record_has_the_history_and_event_the_api_would_write(app: Harness) -> None:
    client = await app.user()
    await app.user("owner@example.com")
    await run_import(
        client, "CONTACT", "Email,First name,Contact owner\nada@example.com,Ada,owner@example.com\n"
    )
    cid = int(await contact_id(app, "ada@example.com"))
    record = (await record_store.get_records(app.pool, ObjectType.CONTACT, [cid], None))[0]
    history = await app.pool.fetch(
        "SELECT object_id, name, old_value, new_value FROM property_history WHERE object_id = $1 ORDER BY id, position",
        cid,
    )
    assert [tuple(r) for r in history] == history_rows(None, record)
    event = await app.pool.fetchrow(
        "SELECT type, payload, owner_id FROM events WHERE type = 'contact.created'"
    )
    expected = record_event("created", None, record)
    assert (event["type"], event["payload"], event["owner_id"]) == (
        expected.type,
        decode_json(encode_json(expected.payload)),  # as the API's append stores it
        expected.owner_id,
    )


async def test_an_import_is_seen_only_by_its_creator_and_super_admins(app: Harness) -> None:
    creator, other, admin = await app.user(), await app.user(), await app.user(super_admin=True)
    import_id = (await run_import(creator, "CONTACT", "Email\na@example.com\n"))["id"]
    assert (await other(IMPORT, {"id": import_id}))["import"] is None
    assert (await admin(IMPORT, {"id": import_id}))["import"]["status"] == "DONE"


async def test_a_file_without_a_known_column_is_refused(app: Harness) -> None:
    client = await app.user()
    started = (await client(START, {"input": {"objectType": "CONTACT", "csv": "Colour\nblue\n"}}))[
        "startImport"
    ]
    assert (started["import"], started["userErrors"][0]["code"]) == (None, "INVALID")


async def test_progress_is_visible_by_query_and_streamed_by_import_progress(
    app: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(use_cases, "BATCH_SIZE", 2)
    gate = asyncio.Event()
    claim = import_store.claim_import

    async def held(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await claim(*args, **kwargs)

    monkeypatch.setattr(import_store, "claim_import", held)  # the server's runner waits for the gate
    client = await app.user()
    import_id = await start(client, "CONTACT", "Email\n" + "".join(f"c{i}@example.com\n" for i in range(5)))
    queued = (await client(IMPORT, {"id": import_id}))["import"]
    assert (queued["status"], queued["rowsTotal"], queued["rowsProcessed"]) == ("QUEUED", 5, 0)
    async with app.ws(client) as ws:
        op = await ws.subscribe(PROGRESS, {"id": import_id})
        seen = [(await ws.next())["importProgress"]]
        gate.set()
        while seen[-1]["status"] != "DONE":
            seen.append((await ws.next())["importProgress"])
        assert await ws.receive() == {"id": op, "type": "complete"}
    assert [(p["status"], p["rowsProcessed"]) for p in seen] == [
        ("QUEUED", 0), ("RUNNING", 2), ("RUNNING", 4), ("RUNNING", 5), ("DONE", 5)
    ]  # fmt: skip
    assert (seen[-1]["rowsCreated"], (await client(IMPORT, {"id": import_id}))["import"]["status"]) == (
        5,
        "DONE",
    )


async def test_no_one_else_can_follow_an_import(app: Harness) -> None:
    creator, other = await app.user(), await app.user()
    import_id = (await run_import(creator, "CONTACT", "Email\na@example.com\n"))["id"]
    async with app.ws(other) as ws:
        await ws.subscribe(PROGRESS, {"id": import_id})
        message = await ws.receive()
    assert (
        message["type"] == "next"
        and message["payload"]["errors"][0]["message"] == f"import {db_id(import_id)} not found"
    )


async def test_a_file_uploaded_per_the_graphql_multipart_request_spec_is_imported(app: Harness) -> None:
    client = await app.user()
    operations = {"query": START, "variables": {"input": {"objectType": "COMPANY", "file": None}}}
    response = await app.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={
            "0": (
                "companies.csv",
                b"Company name,Company domain name\nAcme,https://www.Acme.com/\n",
                "text/csv",
            )
        },
        headers={"Authorization": f"Bearer {client.token}", "GraphQL-Require-Preflight": "1"},
    )
    started = response.json()["data"]["startImport"]
    assert started["userErrors"] == [], response.json()
    job = await finished(client, started["import"]["id"])
    assert (job["rowsCreated"], job["errors"]) == (1, [])
    assert await app.pool.fetchval("SELECT domain FROM companies WHERE name = 'Acme'") == "acme.com"


async def services_on(pool: asyncpg.Pool) -> Services:
    bus = EventBus(Broadcast("memory://"))
    return Services(pool=pool, bus=bus, relay=Relay(pool, bus), mailer=Mailer(pool, None))


async def queued(pool: asyncpg.Pool, services: Services, rows: int) -> int:
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email="importer@example.com", name="Importer")

    async def source() -> AsyncIterator[bytes]:
        yield ("Email\n" + "".join(f"c{i}@example.com\n" for i in range(rows))).encode()

    ctx = Context(services=services, viewer=Viewer(user=user))
    started = await use_cases.start_import(ctx, ObjectType.CONTACT, source())
    assert isinstance(started, Ok)
    return started.value.id


async def test_two_runners_never_process_the_same_import_twice(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(use_cases, "BATCH_SIZE", 3)
    services = await services_on(pool)
    import_id = await queued(pool, services, 20)
    first, second = use_cases.ImportRunner(services), use_cases.ImportRunner(services)
    done = await asyncio.gather(first.run_once(), second.run_once(), first.run_once(), second.run_once())
    assert [j.id for j in done if j is not None] == [import_id]
    job = await import_store.get_import(pool, import_id)
    assert job is not None
    assert (job.status, job.rows_processed, job.rows_created, job.error_count) == ("DONE", 20, 20, 0)
    assert await pool.fetchval("SELECT count(*) FROM contacts") == 20


class Died(BaseException):
    """The runner's process ends mid-import (no exception handler runs)."""


async def test_an_import_left_by_a_dead_runner_resumes_after_its_last_batch(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(use_cases, "BATCH_SIZE", 4)
    services = await services_on(pool)
    import_id = await queued(pool, services, 10)
    batches = 0

    def die_in_second_batch(write: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal batches
            batches += 1
            if batches == 2:
                raise Died
            return await write(*args, **kwargs)

        return counted

    for path in ("run_batch", "run_ahead"):  # the second batch is written ahead of the first's commit
        monkeypatch.setattr(use_cases, path, die_in_second_batch(getattr(import_batch, path)))
    with pytest.raises(Died):
        await use_cases.ImportRunner(services, name="dead").run_once()
    for path in ("run_batch", "run_ahead"):
        monkeypatch.setattr(use_cases, path, getattr(import_batch, path))
    heir = use_cases.ImportRunner(services, name="heir")
    assert await heir.run_once() is None  # the dead runner's lease still holds
    await pool.execute(
        "UPDATE imports SET lease_until = now() - interval '1 second' WHERE id = $1", import_id
    )
    job = await heir.run_once()
    assert job is not None and (job.status, job.rows_processed, job.rows_created) == ("DONE", 10, 10)
    assert await pool.fetchval("SELECT count(*) FROM contacts") == 10


async def test_the_cli_import_with_failed_rows_exits_1_with_a_summary_and_the_errors_in_a_table(
    db_dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await user_store.insert_user(conn, email="admin@example.com", name="Admin", is_super_admin=True)
    path = tmp_path / "contacts.csv"
    path.write_text("Email,First name\na@example.com,A\nbad,B\n")
    code, out, err = await dealflow("import", "contact", str(path), dsn=db_dsn, data_dir=tmp_path / "data")
    assert code == 1, err
    assert "2/2 rows 100%" in err  # rich's progress bar, its last frame when stderr is not a terminal
    assert "\r" not in err
    lines = out.splitlines()
    assert lines[0].endswith(": done")
    assert [c.strip() for c in lines[4].strip("│").split("│")] == [
        "2",
        "1",
        "0",
        "1",
    ]  # rows created updated failed
    error_row = next(line for line in lines if "'bad'" in line)
    assert [c.strip() for c in error_row.strip("│").split("│")] == [
        "3", "Email: 'bad' is not a valid email address", "INVALID",
    ]  # fmt: skip
    assert "Traceback" not in err


async def test_the_cli_imports_the_example_files_of_the_readme_without_errors(
    db_dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await user_store.insert_user(conn, email="ada@example.com", name="Ada", is_super_admin=True)
    examples = ROOT / "examples"
    for object_type, name in (("CONTACT", "contacts.csv"), ("DEAL", "deals.csv")):
        code, out, err = await dealflow(
            "import", object_type, str(examples / name), "--as", "ada@example.com",
            dsn=db_dsn, data_dir=tmp_path / "data",
        )  # fmt: skip
        assert code == 0, out + err
        assert "rows with errors" not in out
    assert await pool.fetchval("SELECT count(*) FROM contacts WHERE owner_id IS NOT NULL") == 3
    assert await pool.fetchval("SELECT count(*) FROM deals") == 5


async def upload(app: Harness, client: Client, object_type: str, content: bytes) -> dict[str, Any]:
    operations = {"query": START, "variables": {"input": {"objectType": object_type, "file": None}}}
    response = await app.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": ("rows.csv", content, "text/csv")},
        headers={"Authorization": f"Bearer {client.token}", "GraphQL-Require-Preflight": "1"},
    )
    assert response.status_code == 200, response.text[:300]
    started = response.json()["data"]["startImport"]
    assert started["userErrors"] == [], started
    return await finished(client, started["import"]["id"], timeout=60)


def codes_by_line(job: dict[str, Any]) -> dict[int, str]:
    return {e["line"]: e["code"] for e in job["errors"]}


async def test_one_bad_row_never_fails_the_import_and_every_bad_row_is_reported_with_its_line_and_code(
    app: Harness,
) -> None:
    client = await app.user()
    content = (
        b"Record ID,Email,First name\n"
        b",good@example.com,Good\n"
        b"12345678901234567890,big@example.com,Big\n"
        b",nul@example.com,N\x00L\n"
        b",extra@example.com,Extra,cell\n"
        b",short@example.com\n"
        b"\n"
        b",,\n"
        b",amount@example.com," + b"x" * 1001 + b"\n"
        b",last@example.com,Last\n"
    )
    job = await upload(app, client, "CONTACT", content)
    assert job["status"] == "DONE"
    assert (job["rowsProcessed"], job["rowsCreated"]) == (9, 2)
    assert codes_by_line(job) == {
        3: "BAD_ID", 4: "BAD_TEXT", 5: "BAD_ROW", 6: "BAD_ROW", 7: "BLANK_ROW", 8: "BLANK_ROW", 9: "TOO_LONG",
    }  # fmt: skip
    assert "\x00" not in json.dumps(job)
    stored = await app.pool.fetch("SELECT email FROM contacts ORDER BY email")
    assert [r["email"] for r in stored] == ["good@example.com", "last@example.com"]


async def test_a_row_the_database_refuses_is_reported_alone_and_the_other_rows_of_its_batch_are_kept(
    app: Harness,
) -> None:
    client = await app.user()
    await app.pool.execute("ALTER TABLE contacts ADD CONSTRAINT no_mallory CHECK (first_name <> 'Mallory')")
    csv = "Email,First name\na@example.com,Alice\nm@example.com,Mallory\nb@example.com,Bob\n"
    job = await run_import(client, "CONTACT", csv)
    assert job["status"] == "DONE"
    assert (job["rowsProcessed"], job["rowsCreated"]) == (3, 2)
    assert errors(job) == {3: "the database refused the row (SQLSTATE 23514)"}
    names = await app.pool.fetch("SELECT first_name FROM contacts ORDER BY first_name")
    assert [r["first_name"] for r in names] == ["Alice", "Bob"]


async def test_a_csv_upload_over_the_json_limit_is_streamed_and_imported(
    pool: asyncpg.Pool, db_dsn: str
) -> None:
    # A JSON limit of 64 KiB (1 MiB by default) so that a file over it, in several batches, is small.
    settings = Settings(env="production", allowed_origins=("https://app.example.com",), max_body_bytes=65_536)
    rows = "".join(f"c{i:06d}@example.com,First {i:06d},Last name {i:06d}\n" for i in range(5_000))
    content = ("Email,First name,Last name\n" + rows).encode()
    assert len(content) > 3 * settings.max_body_bytes and 2 * use_cases.BATCH_SIZE < 5_000
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        app = Harness(pool=pool, server=server, http=http)
        client = await app.user()
        job = await upload(app, client, "CONTACT", content)
        assert (job["status"], job["rowsCreated"], job["errors"]) == ("DONE", 5_000, [])
        too_big = await app.http.post(
            "/graphql",
            json={"query": START, "variables": {"input": {"objectType": "CONTACT", "csv": content.decode()}}},
            headers={"Authorization": f"Bearer {client.token}"},
        )
        assert too_big.status_code == 413


async def test_importing_an_email_the_importer_cannot_see_answers_not_found_never_forbidden(
    app: Harness,
) -> None:
    owner = await app.user()
    importer = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    hidden = await owner(
        'mutation($o: ID) { createContact(input: {email: "hidden@example.com", ownerId: $o}) { contact { id } } }',
        {"o": str(owner.user_id)},
    )
    hidden_id = hidden["createContact"]["contact"]["id"]
    job = await run_import(importer, "CONTACT", "Email,First name\nhidden@example.com,Changed\n")
    assert [(e["line"], e["code"]) for e in job["errors"]] == [(2, "NOT_FOUND")]
    assert hidden_id not in job["errors"][0]["message"]
    assert await app.pool.fetchval("SELECT first_name FROM contacts WHERE id = $1", db_id(hidden_id)) is None
