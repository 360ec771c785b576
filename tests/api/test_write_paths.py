"""One write path per record: the findings that showed a rule holding on one path and not another."""

from __future__ import annotations

import re
from typing import Any

import pytest

from db import events as event_store
from tests.api.test_approvals import APPROVE, COMMENT, Setup, deal_in, move, setup
from tests.api.test_records import CREATE_CONTACT
from tests.api.test_workflows import CREATE_WORKFLOW
from tests.harness import Client, Harness, gid

MOVE = """mutation($input: MoveDealInput!) { moveDeal(input: $input) {
  deal { id latestApprovalStatus pipeline { id } stage { id label } version approval { status } }
  userErrors { field message code } } }"""
DEAL = "query($id: ID!) { deal(id: $id) { latestApprovalStatus pipeline { id } stage { label } approval { status } } }"
RUNS = """query { workflows { id runs(first: 10) { edges { node {
  objectType objectId outcomes { actionType ok code message } } } } } }"""
CREATE_QUOTE_WORKFLOW = """mutation($i: CreateQuoteWorkflowInput!) { createQuoteWorkflow(input: $i) {
  workflow { id } userErrors { code message } } }"""
CREATE_PIPELINE = """mutation($i: CreatePipelineInput!) { createPipeline(input: $i) {
  pipeline { id stages { id label } } userErrors { code } } }"""


async def deal_workflow(admin: Client, actions: list[dict[str, Any]]) -> dict[str, Any]:
    created = await admin(
        CREATE_WORKFLOW, {"i": {"objectType": "DEAL", "trigger": {"event": "CREATED"}, "actions": actions}}
    )
    result: dict[str, Any] = created["createWorkflow"]
    return result


async def second_pipeline(admin: Client) -> dict[str, str]:
    created = await admin(
        CREATE_PIPELINE,
        {"i": {"label": "Renewals", "stages": [
            {"label": "New", "probability": 0.1, "kind": "OPEN"},
            {"label": "Won", "probability": 1.0, "kind": "CLOSED_WON"},
        ]}},
    )  # fmt: skip
    p = created["createPipeline"]["pipeline"]
    return {"id": p["id"], **{s["label"]: s["id"] for s in p["stages"]}}


async def test_a_workflow_cannot_move_a_deal_past_the_approval_gate(app: Harness) -> None:
    s = await setup(app)
    made = await deal_workflow(
        s.admin, [{"type": "SET_PROPERTY", "property": "stageId", "value": s.stages["Closed won"]}]
    )
    assert made["userErrors"] == []
    deal_id = await deal_in(s, "Appointment scheduled")
    found = (await s.admin(DEAL, {"id": deal_id}))["deal"]
    assert found["stage"]["label"] == "Appointment scheduled"
    runs = {w["id"]: w["runs"]["edges"] for w in (await s.admin(RUNS))["workflows"]}
    [run] = runs[made["workflow"]["id"]]
    assert run["node"]["objectId"] == deal_id
    assert run["node"]["outcomes"] == [
        {"actionType": "SET_PROPERTY", "ok": False, "code": "APPROVAL_REQUIRED",
         "message": run["node"]["outcomes"][0]["message"]}
    ]  # fmt: skip
    assert "approval" in run["node"]["outcomes"][0]["message"].lower()


async def test_a_workflow_moves_a_deal_into_the_approval_stage_like_a_person(app: Harness) -> None:
    s = await setup(app)
    await deal_workflow(
        s.admin, [{"type": "SET_PROPERTY", "property": "stageId", "value": s.stages["Pending approval"]}]
    )
    deal_id = await deal_in(s, "Appointment scheduled")
    found = (await s.admin(DEAL, {"id": deal_id}))["deal"]
    assert found["stage"]["label"] == "Pending approval"
    assert found["latestApprovalStatus"] == "PENDING"
    assert found["approval"]["status"] == "PENDING"


async def test_system_properties_cannot_be_set_by_a_workflow(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    for prop, value, code in (
        ("latestApprovalStatus", "APPROVED", "READ_ONLY_PROPERTY"),
        ("pipelineId", "1", "READ_ONLY_PROPERTY"),
        ("lastActivityDate", "2026-01-01T00:00:00Z", "READ_ONLY_PROPERTY"),
        ("createdAt", "2026-01-01T00:00:00Z", "READ_ONLY_PROPERTY"),
        ("version", "7", "INVALID"),  # not a property a workflow can name at all
    ):
        made = await deal_workflow(admin, [{"type": "SET_PROPERTY", "property": prop, "value": value}])
        assert made["workflow"] is None
        assert [e["code"] for e in made["userErrors"]] == [code], (prop, made)


async def test_moving_into_the_approval_stage_answers_and_announces_pending(app: Harness) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    before = await event_store.stamp(app.pool)
    moved = await s.owner(MOVE, {"input": {"dealId": deal_id, "stageId": s.stages["Pending approval"]}})
    deal = moved["moveDeal"]["deal"]
    assert deal["latestApprovalStatus"] == "PENDING"
    assert deal["approval"] == {"status": "PENDING"}
    events = await event_store.read_after(app.pool, before, limit=100)
    [moved_event] = [e for e in events if e.type == "deal.moved"]
    assert moved_event.payload["deal"]["latest_approval_status"] == "PENDING"


async def test_a_decision_lists_every_approver(app: Harness) -> None:
    s = await setup(app, mode="ALL", approvers=2)
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.owner, deal_id, s.stages["Pending approval"])
    voted = (await s.approvers[0](APPROVE, {"i": {"dealId": deal_id}}))["approveDeal"]
    decisions = voted["approval"]["decisions"]
    assert [d["approver"]["id"] for d in decisions] == [gid("User", a.user_id) for a in s.approvers]
    assert [d["decision"] for d in decisions] == ["APPROVED", None]


async def test_clients_cannot_claim_a_source_the_system_sets(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    for source in ("IMPORT", "WORKFLOW", "AUTOMATION"):
        created = await admin(CREATE_CONTACT, {"input": {"email": f"{source}@example.com", "source": source}})
        assert [e["code"] for e in created["createContact"]["userErrors"]] == ["INVALID"], source
        assigned = await admin(
            "mutation($i: AssignOwnerInput!) { assignOwner(input: $i) { count userErrors { code field } } }",
            {"i": {"objectType": "CONTACT", "ids": ["1"], "ownerId": str(rep.user_id), "source": source}},
        )
        assert assigned["assignOwner"]["userErrors"] == [{"code": "INVALID", "field": ["source"]}]
    for source in ("API", "UI", "INTEGRATION", "FORM"):
        created = await admin(CREATE_CONTACT, {"input": {"email": f"{source}@example.com", "source": source}})
        assert created["createContact"]["userErrors"] == [], source


async def test_a_deal_moves_to_another_pipeline_by_a_move_to_one_of_its_stages(app: Harness) -> None:
    s = await setup(app)
    other = await second_pipeline(s.admin)
    deal_id = await deal_in(s, "Appointment scheduled")
    moved = (await s.admin(MOVE, {"input": {"dealId": deal_id, "stageId": other["New"]}}))["moveDeal"]
    assert moved["userErrors"] == []
    assert moved["deal"]["pipeline"]["id"] == other["id"]
    assert moved["deal"]["stage"]["label"] == "New"


async def test_moving_to_another_pipeline_passes_its_gate(app: Harness) -> None:
    s = await setup(app)
    other = await second_pipeline(s.admin)
    deal_id = await _deal_in_other(s, other)
    refused = await s.admin(MOVE, {"input": {"dealId": deal_id, "stageId": s.stages["Closed won"]}})
    assert [e["code"] for e in refused["moveDeal"]["userErrors"]] == ["APPROVAL_REQUIRED"]
    found = (await s.admin(DEAL, {"id": deal_id}))["deal"]
    assert found["pipeline"]["id"] == other["id"]


async def _deal_in_other(s: Setup, other: dict[str, str]) -> str:
    created = await s.admin(
        "mutation($input: CreateDealInput!) { createDeal(input: $input) { deal { id } userErrors { code } } }",
        {"input": {"name": "Elsewhere", "pipelineId": other["id"], "stageId": other["New"],
                   "ownerId": str(s.owner.user_id)}},
    )  # fmt: skip
    assert created["createDeal"]["userErrors"] == []
    deal_id: str = created["createDeal"]["deal"]["id"]
    return deal_id


async def test_a_stage_of_another_pipeline_given_with_a_pipeline_is_refused(app: Harness) -> None:
    s = await setup(app)
    other = await second_pipeline(s.admin)
    created = await s.admin(
        "mutation($input: CreateDealInput!) { createDeal(input: $input) { deal { id } userErrors { code } } }",
        {"input": {"name": "Mixed", "pipelineId": s.pipeline["id"], "stageId": other["New"]}},
    )
    assert [e["code"] for e in created["createDeal"]["userErrors"]] == ["WRONG_PIPELINE"]


async def test_move_deal_into_the_approval_stage_writes_the_deal_once_in_few_statements(
    query_log: list[str], app: Harness
) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    query_log.clear()
    moved = await s.owner(MOVE, {"input": {"dealId": deal_id, "stageId": s.stages["Pending approval"]}})
    assert moved["moveDeal"]["userErrors"] == []
    transaction = the_use_case(query_log)
    assert len(transaction) <= 12, "\n---\n".join(" ".join(q.split())[:150] for q in transaction)
    assert len([q for q in transaction if re.search(r"UPDATE\s+deals\b", q)]) == 1, transaction
    # the move's decision reads the stage's pipeline and the approval gate in one statement
    [load] = [q for q in transaction if re.search(r"\bFROM\s+stages\b", q) or "FOR SHARE" in q]
    assert re.search(r"\bFROM\s+stages\b", load) and "FOR SHARE" in load, load


async def test_a_move_to_a_stage_that_does_not_exist_is_refused_and_changes_nothing(app: Harness) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    before = (await s.owner(DEAL, {"id": deal_id}))["deal"]
    moved = await s.owner(MOVE, {"input": {"dealId": deal_id, "stageId": gid("Stage", 987654)}})
    assert moved["moveDeal"]["deal"] is None
    assert [(e["field"], e["code"]) for e in moved["moveDeal"]["userErrors"]] == [(["stageId"], "NOT_FOUND")]
    assert (await s.owner(DEAL, {"id": deal_id}))["deal"] == before


@pytest.mark.parametrize("action", ["approve", "comment"])
async def test_a_decision_or_comment_loads_its_deal_process_and_approval_in_one_locking_statement(
    query_log: list[str], app: Harness, action: str
) -> None:
    """The deal (FOR UPDATE), its process (FOR SHARE) and its latest approval (FOR UPDATE), in the
    order every path locks them, read by one statement; then the decision's own writes."""
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.owner, deal_id, s.stages["Pending approval"])
    query_log.clear()
    if action == "approve":
        done = (await s.approvers[0](APPROVE, {"i": {"dealId": deal_id}}))["approveDeal"]
    else:
        done = (await s.owner(COMMENT, {"i": {"dealId": deal_id, "body": "Please look"}}))[
            "commentOnDealApproval"
        ]
    assert done["userErrors"] == []
    transaction = the_use_case(query_log)
    loads = [q for q in transaction if "FOR UPDATE" in q or "FOR SHARE" in q]
    assert len(loads) == 1, "\n---\n".join(" ".join(q.split())[:150] for q in loads)
    assert len(transaction) <= 4, transaction  # the load, its own write, notifications, events


def the_use_case(statements: list[str]) -> list[str]:
    """The move's transaction: from locking the deal to appending its events (the last statement),
    without asyncpg's one-off type introspection on a connection that meets a type for the first time."""
    first = next(i for i, q in enumerate(statements) if "FOR UPDATE" in q and "deals" in q)
    last = next(i for i, q in enumerate(statements) if "INSERT INTO events" in q)
    return [q for q in statements[first : last + 1] if not INTROSPECTION.search(q)]


INTROSPECTION = re.compile(r"typeinfo_tree|set_config\('jit'|current_setting\('jit'\)")


async def test_quote_workflows_run_on_the_one_engine_with_their_run_log(app: Harness) -> None:
    from tests.api.test_quotes import NOTES, PUBLISH, call, draft
    from tests.api.test_quotes import setup as quote_setup

    s = await quote_setup(app, approval=False)
    made = await s.admin(
        CREATE_QUOTE_WORKFLOW,
        {"i": {"name": "Published", "trigger": {"event": "PROPERTY_CHANGED", "property": "status",
               "filterGroups": [{"filters": [{"property": "status", "operator": "EQ", "value": "PUBLISHED"}]}]},
               "actions": [{"type": "SEND_NOTIFICATION", "value": "Quote '{{title}}' is out."},
                           {"type": "SET_PROPERTY", "property": "properties.stage", "value": "sent"}]}},
    )  # fmt: skip
    assert made["createQuoteWorkflow"]["userErrors"] == []
    quote = await draft(s)
    assert (await call(s.seller, PUBLISH, id=quote["id"]))["userErrors"] == []
    messages = [e["node"]["message"] for e in (await s.seller(NOTES))["notifications"]["edges"]]
    assert "Quote 'Q-1' is out." in messages
    runs = {w["id"]: w["runs"]["edges"] for w in (await s.admin(RUNS))["workflows"]}
    [run] = runs[made["createQuoteWorkflow"]["workflow"]["id"]]
    assert run["node"]["objectType"] == "QUOTE"
    assert [o["ok"] for o in run["node"]["outcomes"]] == [True, True]


async def test_an_action_that_cannot_apply_to_quotes_is_refused_when_the_workflow_is_made(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    for action in (
        {"type": "ROTATE_OWNER", "ownerIds": [str(admin.user_id)]},
        {"type": "SET_PROPERTY", "property": "status", "value": "PUBLISHED"},
    ):
        made = await admin(
            CREATE_QUOTE_WORKFLOW, {"i": {"trigger": {"event": "CREATED"}, "actions": [action]}}
        )
        assert made["createQuoteWorkflow"]["workflow"] is None
        assert [e["code"] for e in made["createQuoteWorkflow"]["userErrors"]] == ["INVALID"], action


def test_an_approval_rebuilt_from_its_event_keeps_its_process_and_approvers() -> None:
    from resolvers.approvals import approval_from_snapshot

    approval, approver_ids = approval_from_snapshot(
        {"id": 4, "deal_id": 9, "process_id": 3, "status": "PENDING", "approver_ids": [5, 6], "votes": []}
    )
    assert (approval.process_id, approval.approver_ids, approver_ids) == (3, (5, 6), (5, 6))
