"""Ownership and workflows through the API: assignOwner, enrollment, actions, rotation (seeds 003, 004)."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.records import Scope
from tests.api.test_records import CREATE_CONTACT
from tests.harness import Client, Harness, gid

ASSIGN = (
    "mutation($i: AssignOwnerInput!) { assignOwner(input: $i) { count userErrors { field message code } } }"
)
CREATE_WORKFLOW = """mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) {
  workflow { id enabled actions { id type } } userErrors { field message code } } }"""
COUNTS = "query($id: ID!) { rotateAction(id: $id) { counts { owner { id } count } } }"
OWNER = "query($id: ID!) { contact(id: $id) { owner { id } lifecycleStage } }"


async def contacts(client: Client, n: int, **extra: Any) -> list[str]:
    ids = []
    for i in range(n):
        data = await client(
            CREATE_CONTACT, {"input": {"email": f"w{i}-{client.user_id}@example.com", **extra}}
        )
        assert data["createContact"]["userErrors"] == [], data
        ids.append(data["createContact"]["contact"]["id"])
    return ids


async def workflow(
    admin: Client, actions: list[dict[str, Any]], trigger: dict[str, Any] | None = None
) -> dict[str, Any]:
    created = await admin(
        CREATE_WORKFLOW,
        {"i": {"objectType": "CONTACT", "trigger": trigger or {"event": "CREATED"}, "actions": actions}},
    )
    assert created["createWorkflow"]["userErrors"] == [], created
    found: dict[str, Any] = created["createWorkflow"]["workflow"]
    return found


async def test_assign_owner_sets_many_records_in_one_call_and_notifies_the_owner_once(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    ids = await contacts(admin, 5)
    result = await admin(ASSIGN, {"i": {"objectType": "CONTACT", "ids": ids, "ownerId": str(rep.user_id)}})
    assert result["assignOwner"] == {"count": 5, "userErrors": []}
    for cid in ids:
        assert (await admin(OWNER, {"id": cid}))["contact"]["owner"]["id"] == gid("User", rep.user_id)
    notes = (await rep("{ notifications { totalCount edges { node { kind message } } } }"))["notifications"]
    assert notes["totalCount"] == 1
    assert notes["edges"][0]["node"]["message"] == "You were assigned 5 contacts."
    history = await admin(
        'query($id: ID!) { contact(id: $id) { propertyHistory(name: "ownerId") { source } } }', {"id": ids[0]}
    )
    assert history["contact"]["propertyHistory"][0]["source"] == "API"


async def test_only_active_users_can_own(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    leaver = await app.user()
    await admin(
        "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { user { id } } }",
        {"id": str(leaver.user_id)},
    )
    ids = await contacts(admin, 2)
    result = await admin(ASSIGN, {"i": {"objectType": "CONTACT", "ids": ids, "ownerId": str(leaver.user_id)}})
    assert result["assignOwner"]["userErrors"][0]["code"] == "INACTIVE_USER"


async def test_bulk_assignment_outside_the_edit_scope_changes_nothing(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    limited = await app.user(edit_scope=Scope.OWNED)
    mine = await contacts(limited, 2)
    others = await contacts(admin, 1)
    result = await limited(
        ASSIGN, {"i": {"objectType": "CONTACT", "ids": mine + others, "ownerId": str(limited.user_id)}}
    )
    assert result["assignOwner"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert await app.pool.fetchval("SELECT count(*) FROM contacts WHERE owner_id IS NOT NULL") == 0


async def test_a_thousand_records_are_assigned_in_one_transaction(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    ids = await app.pool.fetch(
        "INSERT INTO contacts (email) SELECT 'bulk' || g || '@x.com' FROM generate_series(1, 1000) g RETURNING id"
    )
    result = await admin(
        ASSIGN,
        {"i": {"objectType": "CONTACT", "ids": [str(r["id"]) for r in ids], "ownerId": str(rep.user_id)}},
    )
    assert result["assignOwner"]["count"] == 1000
    assert await app.pool.fetchval("SELECT count(*) FROM property_history WHERE name = 'ownerId'") == 1000


async def test_a_set_property_workflow_runs_on_records_that_match_at_creation(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    await workflow(
        admin,
        [{"type": "SET_PROPERTY", "property": "ownerId", "value": str(rep.user_id)},
         {"type": "SET_PROPERTY", "property": "lifecycleStage", "value": "LEAD"}],
        {"event": "CREATED", "filterGroups": [{"filters": [{"property": "email", "operator": "CONTAINS", "value": "@vip."}]}]},
    )  # fmt: skip
    vip = (await admin(CREATE_CONTACT, {"input": {"email": "a@vip.com"}}))["createContact"]["contact"]
    plain = (await admin(CREATE_CONTACT, {"input": {"email": "b@plain.com"}}))["createContact"]["contact"]
    assert vip["owner"]["id"] == gid("User", rep.user_id)  # the create answer shows what workflows did
    seen = (await admin(OWNER, {"id": vip["id"]}))["contact"]
    assert seen["lifecycleStage"] == "LEAD"
    assert (await admin(OWNER, {"id": plain["id"]}))["contact"]["owner"] is None
    history = await admin(
        'query($id: ID!) { contact(id: $id) { propertyHistory(name: "ownerId") { source } } }',
        {"id": vip["id"]},
    )
    assert history["contact"]["propertyHistory"][0]["source"] == "WORKFLOW"


async def test_a_property_changed_trigger_enrolls_on_that_propertys_change(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    await workflow(
        admin,
        [{"type": "CREATE_TASK", "title": "Call the new lead", "ownerIds": [str(rep.user_id)]}],
        {"event": "PROPERTY_CHANGED", "property": "lifecycleStage",
         "filterGroups": [{"filters": [{"property": "lifecycleStage", "operator": "EQ", "value": "SALES_QUALIFIED_LEAD"}]}]},
    )  # fmt: skip
    cid = (await contacts(admin, 1))[0]
    update = "mutation($i: UpdateContactInput!) { updateContact(input: $i) { userErrors { code } } }"
    await admin(update, {"i": {"id": cid, "firstName": "x"}})
    assert (await rep("{ tasks { totalCount } }"))["tasks"]["totalCount"] == 0
    await admin(update, {"i": {"id": cid, "lifecycleStage": "SALES_QUALIFIED_LEAD"}})
    tasks = (await rep("{ tasks { totalCount edges { node { title } } } }"))["tasks"]
    assert tasks["totalCount"] == 1
    assert tasks["edges"][0]["node"]["title"] == "Call the new lead"


async def test_a_workflow_does_not_move_a_lifecycle_stage_back_without_clearing(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await workflow(admin, [{"type": "SET_PROPERTY", "property": "lifecycleStage", "value": "LEAD"}])
    customer = (await admin(CREATE_CONTACT, {"input": {"email": "cu@x.com", "lifecycleStage": "CUSTOMER"}}))[
        "createContact"
    ]["contact"]
    assert (await admin(OWNER, {"id": customer["id"]}))["contact"]["lifecycleStage"] == "CUSTOMER"


async def test_workflows_enroll_records_from_every_source(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await workflow(admin, [{"type": "SET_PROPERTY", "property": "properties.routed", "value": "yes"}])
    for source in ("UI", "API", "FORM"):
        created = await admin(CREATE_CONTACT, {"input": {"email": f"{source}@src.com", "source": source}})
        cid = created["createContact"]["contact"]["id"]
        props = (await admin("query($id: ID!) { contact(id: $id) { properties } }", {"id": cid}))["contact"][
            "properties"
        ]
        assert props == {"routed": "yes"}


async def test_a_disabled_workflow_enrolls_nothing(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    wf = await workflow(admin, [{"type": "SET_PROPERTY", "property": "properties.routed", "value": "yes"}])
    await admin(
        "mutation($id: ID!) { setWorkflowEnabled(input: {id: $id, enabled: false}) { workflow { enabled } } }",
        {"id": wf["id"]},
    )
    cid = (await contacts(admin, 1))[0]
    assert (await admin("query($id: ID!) { contact(id: $id) { properties } }", {"id": cid}))["contact"][
        "properties"
    ] == {}


async def test_nine_contacts_through_a_three_owner_rotation_give_each_owner_three(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    owners = [await app.user() for _ in range(3)]
    wf = await workflow(admin, [{"type": "ROTATE_OWNER", "ownerIds": [str(o.user_id) for o in owners]}])
    await contacts(admin, 9)
    counts = (await admin(COUNTS, {"id": wf["actions"][0]["id"]}))["rotateAction"]["counts"]
    assert sorted(c["count"] for c in counts) == [3, 3, 3]
    owned = await app.pool.fetch("SELECT owner_id, count(*) AS n FROM contacts GROUP BY owner_id")
    assert sorted(r["n"] for r in owned) == [3, 3, 3]


async def test_rotation_skips_owned_records_unless_overwrite(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    first, other = await app.user(), await app.user()
    await workflow(admin, [{"type": "ROTATE_OWNER", "ownerIds": [str(other.user_id)]}])
    kept = (await admin(CREATE_CONTACT, {"input": {"email": "kept@x.com", "ownerId": str(first.user_id)}}))[
        "createContact"
    ]["contact"]
    assert kept["owner"]["id"] == gid("User", first.user_id)
    await workflow(admin, [{"type": "ROTATE_OWNER", "ownerIds": [str(other.user_id)], "overwrite": True}])
    taken = (await admin(CREATE_CONTACT, {"input": {"email": "taken@x.com", "ownerId": str(first.user_id)}}))[
        "createContact"
    ]["contact"]
    assert taken["owner"]["id"] == gid("User", other.user_id)


async def test_a_team_rotation_uses_only_primary_members(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    primary = [await app.user() for _ in range(2)]
    additional = await app.user()
    team = await admin(
        'mutation($p: [ID!]!, $a: [ID!]!) { createTeam(input: {name: "Sales", primaryMemberIds: $p, additionalMemberIds: $a}) { team { id } } }',
        {"p": [str(u.user_id) for u in primary], "a": [str(additional.user_id)]},
    )
    await workflow(admin, [{"type": "ROTATE_OWNER", "teamId": team["createTeam"]["team"]["id"]}])
    await contacts(admin, 6)
    owners = {r["owner_id"] for r in await app.pool.fetch("SELECT DISTINCT owner_id FROM contacts")}
    assert owners == {u.user_id for u in primary}


async def test_changing_a_rotate_actions_owners_resets_its_counts(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    a, b, c = await app.user(), await app.user(), await app.user()
    wf = await workflow(admin, [{"type": "ROTATE_OWNER", "ownerIds": [str(a.user_id), str(b.user_id)]}])
    action = wf["actions"][0]["id"]
    await contacts(admin, 4)
    await admin(
        "mutation($i: UpdateWorkflowActionInput!) { updateWorkflowAction(input: $i) { action { ownerIds } userErrors { code } } }",
        {"i": {"id": action, "ownerIds": [str(a.user_id), str(b.user_id), str(c.user_id)]}},
    )
    assert (await admin(COUNTS, {"id": action}))["rotateAction"]["counts"] == []
    for i in range(3):
        await admin(CREATE_CONTACT, {"input": {"email": f"after-change{i}@example.com"}})
    counts = (await admin(COUNTS, {"id": action}))["rotateAction"]["counts"]
    assert sorted(x["count"] for x in counts) == [1, 1, 1]


async def test_concurrent_enrollments_spread_evenly_across_owners(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    owners = [await app.user() for _ in range(3)]
    wf = await workflow(admin, [{"type": "ROTATE_OWNER", "ownerIds": [str(o.user_id) for o in owners]}])

    async def create(i: int) -> None:
        data = await admin(CREATE_CONTACT, {"input": {"email": f"race{i}@x.com"}})
        assert data["createContact"]["userErrors"] == []

    for start in range(0, 150, 50):  # 150 creates, 50 at a time
        await asyncio.gather(*(create(i) for i in range(start, start + 50)))
    counts = [
        c["count"] for c in (await admin(COUNTS, {"id": wf["actions"][0]["id"]}))["rotateAction"]["counts"]
    ]
    assert sum(counts) == 150
    assert max(counts) - min(counts) <= 1


async def test_only_super_admins_create_workflows(app: Harness) -> None:
    body = await (await app.user()).raw(
        CREATE_WORKFLOW,
        {
            "i": {
                "objectType": "CONTACT",
                "trigger": {"event": "CREATED"},
                "actions": [{"type": "CREATE_TASK", "title": "t"}],
            }
        },
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_invalid_workflow_specs_are_refused(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    bad = await admin(
        CREATE_WORKFLOW,
        {
            "i": {
                "objectType": "CONTACT",
                "trigger": {"event": "CREATED"},
                "actions": [{"type": "ROTATE_OWNER"}],
            }
        },
    )
    assert bad["createWorkflow"]["userErrors"][0]["code"] == "INVALID"
    bad = await admin(
        CREATE_WORKFLOW,
        {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED", "filterGroups": [{"filters": [{"property": "colour", "operator": "EQ", "value": "x"}]}]},
               "actions": [{"type": "CREATE_TASK", "title": "t"}]}},
    )  # fmt: skip
    assert "colour" in bad["createWorkflow"]["userErrors"][0]["message"]
    assert await app.pool.fetchval("SELECT count(*) FROM workflows") == 0
