"""Seed rules that work but had no test: approval edits, re-enabling, updateDeal's gate, ownership, records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_approvals import DISABLE, ENABLE, deal_in, move, setup
from tests.api.test_engagements import ENGAGEMENTS, contact, engage
from tests.api.test_lifecycle import LINK, deal_with, stage_of
from tests.api.test_lifecycle import contact as lifecycle_contact
from tests.api.test_records import CREATE_COMPANY, CREATE_CONTACT, UPDATE_CONTACT
from tests.api.test_workflows import ASSIGN, COUNTS, contacts, workflow
from tests.harness import Client, Harness, gid

UPDATE_APPROVALS = """mutation($i: DealApprovalsInput!) { updateDealApprovals(input: $i) {
  pipeline { stages { id label probability displayOrder isApprovalStage }
    approvalProcess { mode note approvers { id } approvalStage { id label probability displayOrder } } }
  userErrors { field code } } }"""
PROCESS = """query { pipelines { id stages { id label probability displayOrder isApprovalStage }
  approvalProcess { mode note approvers { id } approvalStage { id label probability displayOrder } } } }"""
UPDATE_DEAL = """mutation($input: UpdateDealInput!) { updateDeal(input: $input) {
  deal { id latestApprovalStatus stage { label } } userErrors { field code } } }"""
DEAL = "query($id: ID!) { deal(id: $id) { latestApprovalStatus stage { label } } }"
CREATE_TICKET = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id subject owner { id } } userErrors { field code } } }"""
TICKET = """query($id: ID!) { ticket(id: $id) { owner { id }
  propertyHistory(name: "ownerId") { oldValue newValue source changedBy { id } } } }"""
NOTES = "{ notifications { edges { node { kind message } } } }"
CONTACT_COMPANY = (
    "query($id: ID!) { contact(id: $id) { companyName primaryCompany { id } companies { id } } }"
)
EMAIL_HISTORY = (
    'query($id: ID!) { contact(id: $id) { id email propertyHistory(name: "email") { oldValue newValue } } }'
)


async def process_state(admin: Client) -> dict[str, Any]:
    found: dict[str, Any] = (await admin(PROCESS))["pipelines"][0]
    return found


# --- 1. updateDealApprovals edits every setting (seed 000, DESIGN 5) ---


@pytest.mark.parametrize("setting", ["stageLabel", "probability", "position", "approverIds", "mode", "note"])
async def test_update_deal_approvals_changes_each_setting_of_the_process(app: Harness, setting: str) -> None:
    s = await setup(app, mode="ANY", position=2)
    replacement = await app.user(approver=True)
    value: Any = {
        "stageLabel": "Manager sign-off",
        "probability": 0.7,
        "position": 4,
        "approverIds": [gid("User", replacement.user_id)],
        "mode": "ALL",
        "note": "Check the margin",
    }[setting]
    before = await process_state(s.admin)
    result = await s.admin(UPDATE_APPROVALS, {"i": {"pipelineId": s.pipeline["id"], setting: value}})
    assert result["updateDealApprovals"]["userErrors"] == []
    after = await process_state(s.admin)
    assert after == result["updateDealApprovals"]["pipeline"] | {"id": s.pipeline["id"]}
    process, stage = after["approvalProcess"], after["approvalProcess"]["approvalStage"]
    observed = {
        "stageLabel": stage["label"],
        "probability": stage["probability"],
        "position": stage["displayOrder"],
        "approverIds": [a["id"] for a in process["approvers"]],
        "mode": process["mode"],
        "note": process["note"],
    }
    assert observed[setting] == value
    old = {
        "stageLabel": before["approvalProcess"]["approvalStage"]["label"],
        "probability": before["approvalProcess"]["approvalStage"]["probability"],
        "position": before["approvalProcess"]["approvalStage"]["displayOrder"],
        "approverIds": [a["id"] for a in before["approvalProcess"]["approvers"]],
        "mode": before["approvalProcess"]["mode"],
        "note": before["approvalProcess"]["note"],
    }
    assert {k: v for k, v in observed.items() if k != setting} == {
        k: v for k, v in old.items() if k != setting
    }
    assert stage["id"] == s.stages["Pending approval"]  # the same stage, edited in place
    assert [st["displayOrder"] for st in after["stages"]] == list(range(len(after["stages"])))
    assert [st["id"] for st in after["stages"] if st["isApprovalStage"]] == [stage["id"]]


@pytest.mark.parametrize("refused", ["blank note", "empty note", "approver without the permission"])
async def test_update_deal_approvals_refuses_a_blank_note_or_an_approver_without_the_approve_permission(
    app: Harness, refused: str
) -> None:
    s = await setup(app)
    plain = await app.user()  # active, but without canApproveDeals
    change, field, code = {
        "blank note": ({"note": "   "}, "note", "INVALID"),
        "empty note": ({"note": ""}, "note", "INVALID"),
        "approver without the permission": (
            {"approverIds": [str(plain.user_id)], "mode": "ALL", "note": "Other note"},
            "approverIds",
            "APPROVAL_APPROVER_INELIGIBLE",
        ),
    }[refused]
    before = await process_state(s.admin)
    result = await s.admin(UPDATE_APPROVALS, {"i": {"pipelineId": s.pipeline["id"], **change}})
    errors = result["updateDealApprovals"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [([field], code)]
    assert result["updateDealApprovals"]["pipeline"] is None
    assert await process_state(s.admin) == before  # nothing changed, not even the other settings


# --- 2. re-enabling after disabling ---


async def test_re_enabling_approvals_creates_a_new_approval_stage_and_the_old_one_stays_ordinary(
    app: Harness,
) -> None:
    s = await setup(app, position=2)
    old_stage = s.stages["Pending approval"]
    assert (await s.admin(DISABLE, {"i": {"pipelineId": s.pipeline["id"]}}))["disableDealApprovals"][
        "userErrors"
    ] == []
    again = await s.admin(
        ENABLE,
        {"i": {"pipelineId": s.pipeline["id"], "approverIds": [str(s.approvers[0].user_id)],
               "note": "Second process", "stageLabel": "Review", "position": 5}},
    )  # fmt: skip
    assert again["enableDealApprovals"]["userErrors"] == []
    stages = again["enableDealApprovals"]["pipeline"]["stages"]
    by_id = {st["id"]: st for st in stages}
    new_stage = again["enableDealApprovals"]["pipeline"]["approvalProcess"]["approvalStage"]
    assert new_stage["label"] == "Review"
    assert [st["label"] for st in stages if st["isApprovalStage"]] == ["Review"]
    assert by_id[old_stage] == {"id": old_stage, "label": "Pending approval", "displayOrder": 2,
                                "isApprovalStage": False}  # fmt: skip
    review = next(st["id"] for st in stages if st["label"] == "Review")
    assert review != old_stage
    # a deal created under the new process passes through the old stage without any approval
    deal_id = await deal_in(s, "Appointment scheduled")
    assert (await move(s.owner, deal_id, old_stage))["userErrors"] == []
    next_open = next(st["id"] for st in stages if st["displayOrder"] == 3)
    assert (await move(s.owner, deal_id, next_open))["userErrors"] == []
    assert (await s.owner(DEAL, {"id": deal_id}))["deal"]["latestApprovalStatus"] is None
    # while the new approval stage gates it
    refused = await move(s.owner, deal_id, s.stages["Closed won"])
    assert refused["userErrors"][0]["code"] == "APPROVAL_REQUIRED"
    assert (await move(s.owner, deal_id, review))["deal"] is not None
    assert (await s.owner(DEAL, {"id": deal_id}))["deal"]["latestApprovalStatus"] == "PENDING"


# --- 3. the gate through updateDeal's stageId ---


async def test_update_deal_cannot_skip_past_the_approval_stage(app: Harness) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    result = await s.owner(UPDATE_DEAL, {"input": {"id": deal_id, "stageId": s.stages["Contract sent"]}})
    assert result["updateDeal"]["deal"] is None
    assert [(e["field"], e["code"]) for e in result["updateDeal"]["userErrors"]] == [
        (["stageId"], "APPROVAL_REQUIRED")
    ]
    assert (await s.owner(DEAL, {"id": deal_id}))["deal"] == {
        "latestApprovalStatus": None,
        "stage": {"label": "Appointment scheduled"},
    }


async def test_update_deal_into_the_approval_stage_starts_an_approval_and_answers_pending(
    app: Harness,
) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    result = await s.owner(UPDATE_DEAL, {"input": {"id": deal_id, "stageId": s.stages["Pending approval"]}})
    assert result["updateDeal"]["userErrors"] == []
    assert result["updateDeal"]["deal"] == {
        "id": deal_id,
        "latestApprovalStatus": "PENDING",
        "stage": {"label": "Pending approval"},
    }
    for approver in s.approvers:
        kinds = [e["node"]["kind"] for e in (await approver(NOTES))["notifications"]["edges"]]
        assert kinds == ["APPROVAL_REQUESTED"]


# --- 4. ticket owners (seed 003) ---


async def test_a_ticket_owner_is_set_at_creation_and_reassigned_with_notification_and_history(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    first, second = await app.user(), await app.user()
    created = await admin(
        CREATE_TICKET, {"input": {"subject": "Printer on fire", "ownerId": str(first.user_id)}}
    )
    assert created["createTicket"]["userErrors"] == []
    ticket_id = created["createTicket"]["ticket"]["id"]
    assert created["createTicket"]["ticket"]["owner"] == {"id": gid("User", first.user_id)}
    result = await admin(
        ASSIGN, {"i": {"objectType": "TICKET", "ids": [ticket_id], "ownerId": str(second.user_id)}}
    )
    assert result["assignOwner"] == {"count": 1, "userErrors": []}
    ticket = (await admin(TICKET, {"id": ticket_id}))["ticket"]
    assert ticket["owner"] == {"id": gid("User", second.user_id)}
    change = ticket["propertyHistory"][0]
    assert (change["oldValue"], change["newValue"], change["source"]) == (
        str(first.user_id),
        str(second.user_id),
        "API",
    )
    assert change["changedBy"] == {"id": gid("User", admin.user_id)}
    messages = [e["node"]["message"] for e in (await second(NOTES))["notifications"]["edges"]
                if e["node"]["kind"] == "OWNER_ASSIGNED"]  # fmt: skip
    assert len(messages) == 1 and "ticket" in messages[0]


# --- 5. two rotate actions in one workflow (seed 003) ---


async def test_two_rotate_actions_in_one_workflow_keep_separate_counts(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    a, b, c, d = [await app.user() for _ in range(4)]
    wf = await workflow(
        admin,
        [{"type": "ROTATE_OWNER", "ownerIds": [str(a.user_id), str(b.user_id)]},
         {"type": "ROTATE_OWNER", "ownerIds": [str(c.user_id), str(d.user_id)], "overwrite": True}],
    )  # fmt: skip
    await contacts(admin, 6)
    spreads = []
    for action in wf["actions"]:
        counts = (await admin(COUNTS, {"id": action["id"]}))["rotateAction"]["counts"]
        spreads.append({x["owner"]["id"]: x["count"] for x in counts})
    first, second = spreads
    assert first == {gid("User", a.user_id): 3, gid("User", b.user_id): 3}
    assert second == {gid("User", c.user_id): 3, gid("User", d.user_id): 3}
    owned = await app.pool.fetch("SELECT owner_id, count(*) AS n FROM contacts GROUP BY owner_id")
    assert {r["owner_id"]: r["n"] for r in owned} == {c.user_id: 3, d.user_id: 3}


# --- 6. companyName is plain text (seed 004) ---


async def test_a_contacts_company_name_is_plain_text_independent_of_its_company_associations(
    app: Harness,
) -> None:
    client = await app.user()
    created = await client(
        CREATE_CONTACT, {"input": {"email": "named@example.com", "companyName": "Acme Inc"}}
    )
    cid = created["createContact"]["contact"]["id"]
    assert await app.pool.fetchval("SELECT count(*) FROM companies") == 0
    assert (await client(CONTACT_COMPANY, {"id": cid}))["contact"] == {
        "companyName": "Acme Inc",
        "primaryCompany": None,
        "companies": [],
    }
    company = (await client(CREATE_COMPANY, {"input": {"name": "Globex", "domain": "globex.com"}}))[
        "createCompany"
    ]["company"]["id"]
    linked = await client(
        LINK,
        {"i": {"fromType": "CONTACT", "fromId": cid, "toType": "COMPANY", "toId": company, "primary": True}},
    )
    assert linked["associate"]["userErrors"] == []
    assert (await client(CONTACT_COMPANY, {"id": cid}))["contact"] == {
        "companyName": "Acme Inc",
        "primaryCompany": {"id": company},
        "companies": [{"id": company}],
    }
    renamed = await client(UPDATE_CONTACT, {"input": {"id": cid, "companyName": "Initech"}})
    assert renamed["updateContact"]["userErrors"] == []
    assert (await client(CONTACT_COMPANY, {"id": cid}))["contact"]["primaryCompany"] == {"id": company}
    assert await app.pool.fetchval("SELECT count(*) FROM companies") == 1


# --- 7. an existing deal associated later (seed 002) ---


async def test_associating_an_existing_deal_with_a_contact_sets_the_first_deal_stage(app: Harness) -> None:
    client = await app.user()
    cid = await lifecycle_contact(client, "LEAD")
    deal_id = await deal_with(client)
    assert await stage_of(client, cid) == "LEAD"
    linked = await client(
        LINK, {"i": {"fromType": "DEAL", "fromId": deal_id, "toType": "CONTACT", "toId": cid}}
    )
    assert linked["associate"]["userErrors"] == []
    assert await stage_of(client, cid) == "OPPORTUNITY"
    history = await client(
        'query($id: ID!) { contact(id: $id) { propertyHistory(name: "lifecycleStage") { newValue source } } }',
        {"id": cid},
    )
    assert history["contact"]["propertyHistory"][0] == {"newValue": "OPPORTUNITY", "source": "AUTOMATION"}


# --- 8. seed 004: an email address changed, then a new contact with the original address ---


async def test_a_changed_email_keeps_the_record_and_frees_the_old_address_whose_emails_go_to_its_new_contact(
    app: Harness,
) -> None:
    client = await app.user()
    first = await contact(client, "original@example.com")
    sent = await engage(client, "EMAIL", first, body="Proposal", emailAddress="original@example.com")
    assert sent["userErrors"] == []
    changed = await client(UPDATE_CONTACT, {"input": {"id": first, "email": "renamed@example.com"}})
    assert changed["updateContact"]["userErrors"] == []
    record = (await client(EMAIL_HISTORY, {"id": first}))["contact"]
    assert (record["id"], record["email"]) == (first, "renamed@example.com")
    assert record["propertyHistory"][0] == {
        "oldValue": "original@example.com",
        "newValue": "renamed@example.com",
    }
    # dedupe follows the new address ...
    dup = (await client(CREATE_CONTACT, {"input": {"email": "Renamed@example.com"}}))["createContact"]
    assert [(e["code"], e["existingId"]) for e in dup["userErrors"]] == [("DUPLICATE", first)]
    # ... and the original address is free for a new record, which shows the emails sent to it
    second = await contact(client, "original@example.com")
    assert second != first
    shown = (await client(ENGAGEMENTS, {"type": "CONTACT", "id": second}))["engagements"]
    assert [(e["id"], e["emailAddress"]) for e in shown] == [
        (sent["engagement"]["id"], "original@example.com")
    ]
