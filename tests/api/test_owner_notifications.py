"""Seed 003: the new owner hears of every assignment except an import's."""

from __future__ import annotations

from tests.api.test_imports import run_import
from tests.api.test_records import CREATE_CONTACT
from tests.api.test_workflows import CREATE_WORKFLOW
from tests.harness import Client, Harness, db_id

NOTES = "{ notifications { edges { node { kind message } } } }"


async def assignments(client: Client) -> list[str]:
    edges = (await client(NOTES))["notifications"]["edges"]
    return [e["node"]["message"] for e in edges if e["node"]["kind"] == "OWNER_ASSIGNED"]


async def test_an_owner_given_at_creation_by_someone_else_is_notified(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    created = await admin(CREATE_CONTACT, {"input": {"email": "a@example.com", "ownerId": str(rep.user_id)}})
    contact_id = created["createContact"]["contact"]["id"]
    assert await assignments(rep) == [f"You were assigned contact {db_id(contact_id)}."]
    await admin(CREATE_CONTACT, {"input": {"email": "b@example.com", "ownerId": str(admin.user_id)}})
    assert await assignments(admin) == []  # no one is told of what they did themselves


async def test_an_owner_set_by_a_workflow_is_notified(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    made = await admin(CREATE_WORKFLOW, {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED"},
        "actions": [{"type": "SET_PROPERTY", "property": "ownerId", "value": str(rep.user_id)}]}})  # fmt: skip
    assert made["createWorkflow"]["userErrors"] == []
    created = await admin(CREATE_CONTACT, {"input": {"email": "c@example.com"}})
    assert await assignments(rep) == [
        f"You were assigned contact {db_id(created['createContact']['contact']['id'])}."
    ]


async def test_an_owner_given_by_an_import_is_not_notified(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    email = (await rep("{ viewer { email } }"))["viewer"]["email"]
    job = await run_import(admin, "CONTACT", f"Email,Contact owner\nd@example.com,{email}\n")
    assert job["rowsCreated"] == 1
    assert await assignments(rep) == []
