"""Global ids (DESIGN 10): node and nodes fetch every Node type in scope; inputs take either id form."""

from __future__ import annotations

from typing import Any

from domain.limits import NODES_MAX
from domain.records import Scope
from tests.api import test_approvals as approvals
from tests.api import test_quotes as quotes
from tests.api.test_engagements import CREATE_ENGAGEMENT
from tests.api.test_imports import finished, start
from tests.api.test_property_definitions import define
from tests.api.test_records import CREATE_CONTACT, MOVE_DEAL, make_deal, pipeline
from tests.api.test_workflows import CREATE_WORKFLOW
from tests.harness import Client, Harness, db_id, gid

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
CREATE_TEAM = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }"
CREATE_TOKEN = "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { apiToken { id } } }"
CREATE_WEBHOOK = """mutation { createWebhook(input: {url: "https://hooks.example.com/x", eventTypes: ["deal.moved"]}) {
  webhook { id } userErrors { code } } }"""
CREATE_TICKET = 'mutation { createTicket(input: {subject: "Help"}) { ticket { id } } }'
CREATE_COMPANY = 'mutation { createCompany(input: {name: "Acme"}) { company { id } } }'
NOTES = "{ notifications { edges { node { id } } } }"
DEAL_APPROVAL = "query($id: ID!) { deal(id: $id) { approval { id } } }"
DEAL = "query($id: ID!) { deal(id: $id) { id stage { id label } pipeline { id } } }"
DEALS_IN_STAGE = """query($s: String!) { deals(filterGroups: [{filters: [{property: "stageId", operator: "EQ", value: $s}]}]) {
  edges { node { id } } } }"""


async def one_of_each(app: Harness, admin: Client, rep: Client) -> dict[str, tuple[Client, str]]:
    """An object of every Node type, and a viewer who may see it."""
    made: dict[str, tuple[Client, str]] = {}
    contact = await admin(CREATE_CONTACT, {"input": {"email": "n@example.com", "ownerId": str(rep.user_id)}})
    made["Contact"] = admin, contact["createContact"]["contact"]["id"]
    made["Company"] = admin, (await admin(CREATE_COMPANY))["createCompany"]["company"]["id"]
    made["Ticket"] = admin, (await admin(CREATE_TICKET))["createTicket"]["ticket"]["id"]
    made["User"] = rep, gid("User", rep.user_id or 0)
    team = await admin(CREATE_TEAM, {"i": {"name": "Nodes", "primaryMemberIds": [str(rep.user_id)]}})
    made["Team"] = rep, team["createTeam"]["team"]["id"]
    s = await approvals.setup(app, approvers=1)
    made["Pipeline"] = rep, s.pipeline["id"]
    made["Stage"] = rep, s.stages["Pending approval"]
    deal_id = await approvals.deal_in(s, "Appointment scheduled")
    made["Deal"] = admin, deal_id
    assert (await approvals.move(s.owner, deal_id, s.stages["Pending approval"]))["userErrors"] == []
    made["DealApproval"] = s.owner, (await s.owner(DEAL_APPROVAL, {"id": deal_id}))["deal"]["approval"]["id"]
    created = await quotes.call(admin, quotes.CREATE, dealId=deal_id, title="Q", lineItems=quotes.LINES)
    made["Quote"] = admin, created["quote"]["id"]
    note = await admin(CREATE_ENGAGEMENT, {"input": {"type": "NOTE", "body": "hi",
        "recordIds": [{"objectType": "CONTACT", "id": made["Contact"][1]}]}})  # fmt: skip
    made["Engagement"] = rep, note["createEngagement"]["engagement"]["id"]
    task = await admin(CREATE_ENGAGEMENT, {"input": {"type": "TASK", "title": "Call",
        "assigneeId": str(rep.user_id)}})  # fmt: skip
    made["Task"] = rep, gid("Task", db_id(task["createEngagement"]["engagement"]["id"]))
    made["Notification"] = rep, (await rep(NOTES))["notifications"]["edges"][0]["node"]["id"]
    made["ApiToken"] = (
        rep,
        (await rep(CREATE_TOKEN, {"i": {"name": "ci"}}))["createApiToken"]["apiToken"]["id"],
    )
    made["PropertyDefinition"] = rep, (await define(admin, "tier", "STRING"))["propertyDefinition"]["id"]
    made["Import"] = admin, await start(admin, "CONTACT", "Email\nimp@example.com\n")
    await finished(admin, made["Import"][1])
    workflow = await admin(CREATE_WORKFLOW, {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED"},
        "actions": [{"type": "CREATE_TASK", "title": "Follow up"}]}})  # fmt: skip
    made["Workflow"] = admin, workflow["createWorkflow"]["workflow"]["id"]
    made["WorkflowAction"] = admin, workflow["createWorkflow"]["workflow"]["actions"][0]["id"]
    made["Webhook"] = admin, (await admin(CREATE_WEBHOOK))["createWebhook"]["webhook"]["id"]
    return made


async def test_node_fetches_every_node_type_by_its_global_id(app: Harness) -> None:
    from schema.nodes import FETCH

    admin = await app.user(super_admin=True)
    rep = await app.user()
    made = await one_of_each(app, admin, rep)
    assert set(made) == set(FETCH)
    for kind, (viewer, node_id) in made.items():
        assert (await viewer(NODE, {"id": node_id}))["node"] == {"__typename": kind, "id": node_id}, kind
    every = [node_id for _, node_id in made.values()]
    assert (await admin(NODES, {"ids": every}))["nodes"] == [
        {"__typename": kind, "id": node_id} if viewer is admin or kind not in PRIVATE else None
        for kind, (viewer, node_id) in made.items()
    ]


PRIVATE = {"Notification"}  # the viewer's own: not even a super admin reads another's


async def test_an_id_out_of_scope_reads_exactly_like_an_id_that_does_not_exist(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    owner = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    stranger = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    deal = await make_deal(admin, ownerId=str(owner.user_id))
    missing = gid("Deal", db_id(deal["id"]) + 1000)
    for viewer in (stranger, admin):
        unseen = await viewer.raw(NODE, {"id": deal["id"] if viewer is stranger else missing})
        assert unseen["data"] == {"node": None} and "errors" not in unseen
    assert await stranger.raw(NODE, {"id": missing}) == await stranger.raw(NODE, {"id": deal["id"]})
    found = await owner(NODES, {"ids": [deal["id"], missing, deal["id"]]})
    assert found["nodes"] == [
        {"__typename": "Deal", "id": deal["id"]},
        None,
        {"__typename": "Deal", "id": deal["id"]},
    ]
    assert (await stranger(NODES, {"ids": [deal["id"], missing]}))["nodes"] == [None, None]
    hook = (await admin(CREATE_WEBHOOK))["createWebhook"]["webhook"]["id"]
    flow = await admin(CREATE_WORKFLOW, {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED"},
        "actions": [{"type": "CREATE_TASK", "title": "Follow up"}]}})  # fmt: skip
    for node_id in (hook, flow["createWorkflow"]["workflow"]["id"]):  # super admins only, like their queries
        assert (await admin(NODE, {"id": node_id}))["node"] is not None
        assert (await owner(NODE, {"id": node_id}))["node"] is None


async def test_node_takes_only_global_ids_and_nodes_takes_a_bounded_list(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    deal = await make_deal(admin)
    plain = await admin.raw(NODE, {"id": str(db_id(deal["id"]))})
    assert plain["errors"][0]["extensions"] == {"code": "BAD_ID", "field": ["id"]}
    too_many = await admin.raw(NODES, {"ids": [deal["id"]] * (NODES_MAX + 1)})
    assert too_many["errors"][0]["extensions"] == {"code": "TOO_LARGE", "field": ["ids"]}
    assert f"at most {NODES_MAX}" in too_many["errors"][0]["message"]
    assert len((await admin(NODES, {"ids": [deal["id"]] * NODES_MAX}))["nodes"]) == NODES_MAX


async def test_mutations_take_the_global_id_and_the_plain_record_id(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    p = await pipeline(admin)
    deal = await make_deal(admin)
    plain = {"dealId": str(db_id(deal["id"])), "stageId": str(db_id(p["stages"][1]["id"]))}
    moved = (await admin(MOVE_DEAL, {"input": plain}))["moveDeal"]
    assert moved["userErrors"] == [] and moved["deal"]["id"] == deal["id"]
    moved = await admin(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][2]["id"]}})
    assert moved["moveDeal"]["deal"]["stage"]["label"] == p["stages"][2]["label"]
    assert (await admin(DEAL, {"id": str(db_id(deal["id"]))}))["deal"]["id"] == deal["id"]
    listed = await admin(DEALS_IN_STAGE, {"s": p["stages"][2]["id"]})
    assert [e["node"]["id"] for e in listed["deals"]["edges"]] == [deal["id"]]
    listed = await admin(DEALS_IN_STAGE, {"s": str(db_id(p["stages"][2]["id"]))})
    assert [e["node"]["id"] for e in listed["deals"]["edges"]] == [deal["id"]]


async def test_a_global_id_of_the_wrong_type_is_refused_naming_the_field(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    p = await pipeline(admin)
    deal = await make_deal(admin)
    contact = (await admin(CREATE_CONTACT, {"input": {"email": "w@example.com"}}))["createContact"]["contact"]
    before = await app.pool.fetchrow("SELECT stage_id, version FROM deals")
    refused = await admin.raw(
        MOVE_DEAL, {"input": {"dealId": contact["id"], "stageId": p["stages"][1]["id"]}}
    )
    error = refused["errors"][0]
    assert error["extensions"] == {"code": "BAD_ID", "field": ["input", "dealId"]}
    assert error["message"] == "input.dealId takes the id of a Deal, not of a Contact"
    refused = await admin.raw(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": deal["id"]}})
    assert refused["errors"][0]["extensions"] == {"code": "BAD_ID", "field": ["input", "stageId"]}
    assert await app.pool.fetchrow("SELECT stage_id, version FROM deals") == before
    filtered = await admin.raw(DEALS_IN_STAGE, {"s": contact["id"]})
    assert "the id of a Contact, not of a Stage" in filtered["errors"][0]["message"]
    deleted = await admin.raw(
        "mutation($i: DeleteRecordInput!) { deleteRecord(input: $i) { userErrors { code } } }",
        {"i": {"objectType": "COMPANY", "id": contact["id"]}},
    )
    assert deleted["errors"][0]["extensions"] == {"code": "BAD_ID", "field": ["input", "id"]}


async def test_imports_take_the_record_id_in_either_form(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    made = [(await admin(CREATE_CONTACT, {"input": {"email": f"i{n}@example.com"}}))["createContact"]["contact"]
            for n in range(2)]  # fmt: skip
    csv = f"Record ID,First Name\n{made[0]['id']},Global\n{db_id(made[1]['id'])},Plain\n"
    done = await finished(admin, await start(admin, "CONTACT", csv))
    assert (done["status"], done["rowsUpdated"], done["errors"]) == ("DONE", 2, [])
    names = await app.pool.fetch("SELECT first_name FROM contacts ORDER BY id")
    assert [r["first_name"] for r in names] == ["Global", "Plain"]
    deal = await make_deal(admin)
    wrong = await finished(admin, await start(admin, "CONTACT", f"Record ID,First Name\n{deal['id']},X\n"))
    assert [e["code"] for e in wrong["errors"]] == ["BAD_ID"]
    assert "is the id of a Deal, not of a Contact" in wrong["errors"][0]["message"]


async def test_a_duplicates_existing_id_and_an_events_record_id_are_global(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    first = (await admin(CREATE_CONTACT, {"input": {"email": "d@example.com"}}))["createContact"]
    again = (await admin(CREATE_CONTACT, {"input": {"email": "d@example.com"}}))["createContact"]
    assert again["userErrors"][0]["existingId"] == first["contact"]["id"]
    async with app.ws(admin) as ws:
        await ws.subscribe("subscription { recordChanged(objectType: CONTACT) { record } }")
        await ws.nothing_within(0.3)
        await admin(CREATE_CONTACT, {"input": {"email": "e@example.com"}})
        event = (await ws.next())["recordChanged"]["record"]
    created: dict[str, Any] = {"type": "CONTACT", "id": gid("Contact", db_id(first["contact"]["id"]) + 1)}
    assert {k: event[k] for k in created} == created
