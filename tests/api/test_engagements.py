"""Engagements: the per-record cap, activity dates, emails by address, visibility, tasks."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.records import Scope
from resolvers.engagements import MAX_ENGAGEMENTS_PER_RECORD
from tests.api.test_records import CREATE_CONTACT
from tests.harness import Client, Harness, db_id, gid

CREATE_ENGAGEMENT = """
mutation($input: CreateEngagementInput!) {
  createEngagement(input: $input) {
    engagement { id type title body emailAddress done assignee { id } createdBy { id } }
    associatedCount skippedCount userErrors { field message code }
  }
}"""
ENGAGEMENTS = """
query($type: ObjectType!, $id: ID!) { engagements(objectType: $type, recordId: $id) { id type emailAddress } }
"""
DATES = "query($id: ID!) { contact(id: $id) { lastActivityDate lastContacted } }"
TASKS = """
query($assigneeId: ID, $first: Int, $after: String) {
  tasks(assigneeId: $assigneeId, first: $first, after: $after) {
    edges { node { id title done assignee { id } } } pageInfo { hasNextPage endCursor } totalCount
  }
}"""
SET_TASK_DONE = """
mutation($input: SetTaskDoneInput!) { setTaskDone(input: $input) { task { id done } userErrors { field code } } }
"""
WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def contact(client: Client, email: str, **fields: Any) -> str:
    data = await client(CREATE_CONTACT, {"input": {"email": email, **fields}})
    assert data["createContact"]["userErrors"] == []
    contact_id: str = data["createContact"]["contact"]["id"]
    return contact_id


async def engage(client: Client, kind: str, *contact_ids: str, **fields: Any) -> dict[str, Any]:
    records = [{"objectType": "CONTACT", "id": c} for c in contact_ids]
    data = await client(CREATE_ENGAGEMENT, {"input": {"type": kind, "recordIds": records, **fields}})
    payload: dict[str, Any] = data["createEngagement"]
    return payload


async def fill(app: Harness, contact_id: str, n: int) -> None:
    await app.pool.execute(
        """
        WITH e AS (INSERT INTO engagements (type, body) SELECT 'NOTE', 'old ' || g FROM generate_series(1, $2) g
                   RETURNING id)
        INSERT INTO engagement_records (engagement_id, object_type, object_id) SELECT id, 'CONTACT', $1 FROM e
        """,
        db_id(contact_id),
        n,
    )


async def queued_behind_locks(app: Harness, n: int) -> None:
    for _ in range(500):
        if await app.pool.fetchval(WAITING) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {n} transactions waited for a lock")


async def linked(app: Harness, contact_id: str) -> int:
    n: int = await app.pool.fetchval(
        "SELECT count(*) FROM engagement_records WHERE object_type = 'CONTACT' AND object_id = $1",
        db_id(contact_id),
    )
    return n


async def test_the_10001st_engagement_on_a_record_is_created_but_not_associated_and_the_payload_says_so(
    app: Harness,
) -> None:
    client = await app.user()
    full = await contact(client, "full@example.com")
    room = await contact(client, "room@example.com")
    await fill(app, full, MAX_ENGAGEMENTS_PER_RECORD)
    payload = await engage(client, "CALL", full, room, body="one more")
    assert payload["userErrors"] == []
    assert payload["engagement"]["body"] == "one more"
    assert (payload["associatedCount"], payload["skippedCount"]) == (1, 1)
    assert await linked(app, full) == MAX_ENGAGEMENTS_PER_RECORD
    assert await linked(app, room) == 1
    assert (await client(DATES, {"id": full}))["contact"] == {"lastActivityDate": None, "lastContacted": None}
    assert (await client(DATES, {"id": room}))["contact"]["lastContacted"] is not None


async def test_two_engagements_racing_for_a_records_last_place_associate_only_one(app: Harness) -> None:
    client = await app.user()
    almost = await contact(client, "almost@example.com")
    await fill(app, almost, MAX_ENGAGEMENTS_PER_RECORD - 1)
    async with app.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE", db_id(almost))  # hold the gate
        racers = [asyncio.create_task(engage(client, "NOTE", almost, body=f"race {n}")) for n in range(4)]
        await queued_behind_locks(app, len(racers))
    payloads = await asyncio.gather(*racers)
    assert sorted(p["associatedCount"] for p in payloads) == [0, 0, 0, 1]
    assert all(p["engagement"] is not None for p in payloads)
    assert await linked(app, almost) == MAX_ENGAGEMENTS_PER_RECORD


async def test_an_engagement_updates_last_activity_date(app: Harness) -> None:
    client = await app.user()
    cid = await contact(client, "active@example.com")
    assert (await client(DATES, {"id": cid}))["contact"]["lastActivityDate"] is None
    assert (await engage(client, "NOTE", cid, body="met at the fair"))["associatedCount"] == 1
    assert (await client(DATES, {"id": cid}))["contact"]["lastActivityDate"] is not None


async def test_a_call_sets_last_contacted_and_a_note_does_not(app: Harness) -> None:
    client = await app.user()
    noted = await contact(client, "noted@example.com")
    called = await contact(client, "called@example.com")
    await engage(client, "NOTE", noted, body="a note")
    await engage(client, "CALL", called, body="a call")
    assert (await client(DATES, {"id": noted}))["contact"]["lastContacted"] is None
    dates = (await client(DATES, {"id": called}))["contact"]
    assert dates["lastContacted"] is not None
    assert dates["lastContacted"] == dates["lastActivityDate"]


async def test_an_email_engagement_shows_on_a_contact_created_later_with_that_address(app: Harness) -> None:
    client = await app.user()
    sent = await engage(client, "EMAIL", body="Hello!", emailAddress="Later@Example.com")
    assert sent["userErrors"] == []
    cid = await contact(client, "later@example.com")
    shown = (await client(ENGAGEMENTS, {"type": "CONTACT", "id": cid}))["engagements"]
    assert shown == [{"id": sent["engagement"]["id"], "type": "EMAIL", "emailAddress": "later@example.com"}]


async def test_an_email_engagement_shows_on_a_contact_deleted_and_created_again_with_that_address(
    app: Harness,
) -> None:
    client = await app.user()
    first = await contact(client, "again@example.com")
    sent = await engage(client, "EMAIL", first, body="Hi", emailAddress="again@example.com")
    await client(
        "mutation($i: DeleteRecordInput!) { deleteRecord(input: $i) { ok } }",
        {"i": {"objectType": "CONTACT", "id": first}},
    )
    second = await contact(client, "AGAIN@example.com")
    shown = (await client(ENGAGEMENTS, {"type": "CONTACT", "id": second}))["engagements"]
    assert [e["id"] for e in shown] == [sent["engagement"]["id"]]


async def test_an_email_engagement_needs_an_email_address(app: Harness) -> None:
    client = await app.user()
    payload = await engage(client, "EMAIL", body="Hi")
    assert payload["engagement"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["emailAddress"], "INVALID")]


async def test_creating_an_engagement_on_an_invisible_record_is_not_found_and_writes_nothing(
    app: Harness,
) -> None:
    owner = await app.user()
    outsider = await app.user(view_scope=Scope.OWNED)
    hidden = await contact(owner, "hidden@example.com", ownerId=str(owner.user_id))
    own = await contact(outsider, "own@example.com", ownerId=str(outsider.user_id))
    payload = await engage(outsider, "CALL", own, hidden, body="sneaky")
    assert payload["engagement"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["recordIds"], "NOT_FOUND")]
    assert await app.pool.fetchval("SELECT count(*) FROM engagements") == 0
    for cid in (own, hidden):
        assert (await owner(DATES, {"id": cid}))["contact"] == {
            "lastActivityDate": None,
            "lastContacted": None,
        }


async def test_a_records_engagements_are_empty_for_a_viewer_who_cannot_see_it(app: Harness) -> None:
    owner = await app.user()
    outsider = await app.user(view_scope=Scope.OWNED)
    hidden = await contact(owner, "private@example.com", ownerId=str(owner.user_id))
    await engage(owner, "NOTE", hidden, body="private note")
    assert len((await owner(ENGAGEMENTS, {"type": "CONTACT", "id": hidden}))["engagements"]) == 1
    assert (await outsider(ENGAGEMENTS, {"type": "CONTACT", "id": hidden}))["engagements"] == []


async def test_tasks_list_by_assignee_newest_first_page_by_page(app: Harness) -> None:
    boss = await app.user()
    worker = await app.user()
    ids = []
    for n in range(3):
        task = await engage(boss, "TASK", title=f"task {n}", assigneeId=str(worker.user_id))
        ids.append(task["engagement"]["id"])
    await engage(boss, "TASK", title="boss's own task")
    page = (await worker(TASKS, {"first": 2}))["tasks"]
    assert [e["node"]["id"] for e in page["edges"]] == [ids[2], ids[1]]
    assert (page["pageInfo"]["hasNextPage"], page["totalCount"]) == (True, 3)
    rest = (await worker(TASKS, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["tasks"]
    assert [e["node"]["id"] for e in rest["edges"]] == [ids[0]]
    assert rest["pageInfo"]["hasNextPage"] is False
    theirs = (await boss(TASKS, {"assigneeId": str(worker.user_id)}))["tasks"]
    assert [e["node"]["assignee"]["id"] for e in theirs["edges"]] == [gid("User", worker.user_id)] * 3
    assert [e["node"]["title"] for e in (await boss(TASKS))["tasks"]["edges"]] == ["boss's own task"]


async def test_set_task_done_by_a_non_assignee_is_refused(app: Harness) -> None:
    boss = await app.user()
    worker = await app.user()
    task = (await engage(boss, "TASK", title="file the report", assigneeId=str(worker.user_id)))["engagement"]
    refused = (await boss(SET_TASK_DONE, {"input": {"id": task["id"], "done": True}}))["setTaskDone"]
    assert refused["task"] is None
    assert refused["userErrors"] == [{"field": ["id"], "code": "FORBIDDEN"}]
    assert await app.pool.fetchval("SELECT done FROM engagements WHERE id = $1", db_id(task["id"])) is False
    done = (await worker(SET_TASK_DONE, {"input": {"id": task["id"], "done": True}}))["setTaskDone"]
    assert done == {"task": {"id": task["id"], "done": True}, "userErrors": []}


async def test_a_super_admin_may_set_any_task_done(app: Harness) -> None:
    worker = await app.user()
    admin = await app.user(super_admin=True)
    task = (await engage(worker, "TASK", title="mine"))["engagement"]
    assert task["assignee"]["id"] == gid("User", worker.user_id)
    done = (await admin(SET_TASK_DONE, {"input": {"id": task["id"], "done": True}}))["setTaskDone"]
    assert done["task"]["done"] is True


async def teammates(app: Harness, *members: Client) -> None:
    admin = await app.user(super_admin=True)
    await admin(
        'mutation($p: [ID!]!) { createTeam(input: {name: "Team", primaryMemberIds: $p}) { team { id } } }',
        {"p": [str(m.user_id) for m in members]},
    )


async def test_logging_an_engagement_needs_edit_scope_on_every_record_and_a_refusal_changes_nothing(
    app: Harness,
) -> None:
    grace = await app.user()
    tom = await app.user(view_scope=Scope.TEAM, edit_scope=Scope.OWNED)
    await teammates(app, grace, tom)
    theirs = await contact(grace, "teammate@example.com", ownerId=str(grace.user_id))
    deal = await grace(
        'mutation($o: ID) { createDeal(input: {name: "D", pipelineId: "1", stageId: "1", ownerId: $o}) { deal { id } } }',
        {"o": str(grace.user_id)},
    )
    deal_id = deal["createDeal"]["deal"]["id"]
    own = await contact(tom, "tom-own@example.com", ownerId=str(tom.user_id))
    assert (await tom(DATES, {"id": theirs}))["contact"] is not None  # in view...
    for records in (
        [{"objectType": "CONTACT", "id": own}, {"objectType": "CONTACT", "id": theirs}],
        [{"objectType": "DEAL", "id": deal_id}],
    ):
        data = await tom(CREATE_ENGAGEMENT, {"input": {"type": "CALL", "body": "hi", "recordIds": records}})
        payload = data["createEngagement"]
        assert payload["engagement"] is None  # ...but not in edit scope
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["recordIds"], "FORBIDDEN")]
    assert await app.pool.fetchval("SELECT count(*) FROM engagements") == 0
    for cid in (theirs, own):
        assert (await grace(DATES, {"id": cid}))["contact"] == {
            "lastActivityDate": None,
            "lastContacted": None,
        }
    assert (
        await app.pool.fetchval("SELECT last_activity_date FROM deals WHERE id = $1", db_id(deal_id)) is None
    )
    logged = await engage(tom, "CALL", own, body="mine")
    assert logged["userErrors"] == [] and logged["associatedCount"] == 1


async def test_an_email_address_alone_never_opens_someone_elses_email_thread(app: Harness) -> None:
    grace = await app.user()
    barbara = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    deal = await grace(
        'mutation($o: ID) { createDeal(input: {name: "D", pipelineId: "1", stageId: "1", ownerId: $o}) { deal { id } } }',
        {"o": str(grace.user_id)},
    )
    records = [{"objectType": "DEAL", "id": deal["createDeal"]["deal"]["id"]}]
    sent = await grace(
        CREATE_ENGAGEMENT,
        {
            "input": {
                "type": "EMAIL",
                "body": "our price",
                "emailAddress": "buyer@example.com",
                "recordIds": records,
            }
        },
    )
    email_id = sent["createEngagement"]["engagement"]["id"]
    lure = await contact(barbara, "buyer@example.com", ownerId=str(barbara.user_id))
    shown = await barbara(
        "query($id: ID!) { engagements(objectType: CONTACT, recordId: $id) { id body createdBy { email } } }",
        {"id": lure},
    )
    assert shown["engagements"] == []
    own = await engage(barbara, "EMAIL", lure, body="hello", emailAddress="buyer@example.com")
    mine = (await barbara(ENGAGEMENTS, {"type": "CONTACT", "id": lure}))["engagements"]
    assert [e["id"] for e in mine] == [own["engagement"]["id"]]
    # grace's scope covers both authors: she sees the whole thread on barbara's contact
    both = (await grace(ENGAGEMENTS, {"type": "CONTACT", "id": lure}))["engagements"]
    assert [e["id"] for e in both] == [own["engagement"]["id"], email_id]


async def test_an_email_shows_by_address_to_a_teammate_of_its_author(app: Harness) -> None:
    grace = await app.user()
    tom = await app.user(view_scope=Scope.TEAM, edit_scope=Scope.OWNED)
    await teammates(app, grace, tom)
    sent = await engage(grace, "EMAIL", body="team thread", emailAddress="lead@example.com")
    cid = await contact(tom, "lead@example.com", ownerId=str(tom.user_id))
    shown = (await tom(ENGAGEMENTS, {"type": "CONTACT", "id": cid}))["engagements"]
    assert [e["id"] for e in shown] == [sent["engagement"]["id"]]
