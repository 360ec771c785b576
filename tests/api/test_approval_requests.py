"""Seed 000, as the article says: who is exempt, who may decide, what a request carries and who hears."""

from __future__ import annotations

from tests.api.test_approvals import APPROVE, DEAL, ENABLE, REQUEST, RESTART, deal_in, move, setup
from tests.api.test_records import CREATE_DEAL, pipeline
from tests.harness import Client, Harness

UPDATE_USER = "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }"
UPDATE_APPROVALS = """mutation($i: DealApprovalsInput!) { updateDealApprovals(input: $i) {
  pipeline { id } userErrors { code } } }"""
NOTES = "{ notifications { edges { node { kind message deal { id } } } } }"


async def revoke_approve_permission(admin: Client, user: Client) -> None:
    await admin(UPDATE_USER, {"i": {"id": str(user.user_id), "canApproveDeals": False}})


async def test_deals_in_the_pipeline_when_approvals_are_enabled_are_exempt_whatever_their_stage(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    approver = await app.user(approver=True)
    p = await pipeline(admin)
    early = await admin(
        CREATE_DEAL, {"input": {"name": "Early", "pipelineId": p["id"], "stageId": p["stages"][0]["id"]}}
    )
    enabled = await admin(
        ENABLE,
        {"i": {"pipelineId": p["id"], "approverIds": [str(approver.user_id)], "note": "n", "position": 2}},
    )
    assert enabled["enableDealApprovals"]["userErrors"] == []
    won = next(st["id"] for st in p["stages"] if st["kind"] == "CLOSED_WON")
    assert (await move(admin, early["createDeal"]["deal"]["id"], won))["userErrors"] == []
    later = await admin(
        CREATE_DEAL, {"input": {"name": "Later", "pipelineId": p["id"], "stageId": p["stages"][0]["id"]}}
    )
    refused = await move(admin, later["createDeal"]["deal"]["id"], won)
    assert [e["code"] for e in refused["userErrors"]] == ["APPROVAL_REQUIRED"]


async def test_an_approver_who_lost_the_approve_permission_cannot_decide(app: Harness) -> None:
    s = await setup(app, mode="ANY")
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.owner, deal_id, s.stages["Pending approval"])
    await revoke_approve_permission(s.admin, s.approvers[0])
    voted = (await s.approvers[0](APPROVE, {"i": {"dealId": deal_id}}))["approveDeal"]
    assert [e["code"] for e in voted["userErrors"]] == ["NOT_APPROVER"]
    assert (await s.admin(DEAL, {"id": deal_id}))["deal"]["latestApprovalStatus"] == "PENDING"


async def test_in_mode_all_an_approver_who_lost_the_permission_leaves_it_stuck_until_restarted(
    app: Harness,
) -> None:
    s = await setup(app, mode="ALL", approvers=2)
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.owner, deal_id, s.stages["Pending approval"])
    await s.approvers[0](APPROVE, {"i": {"dealId": deal_id}})
    await revoke_approve_permission(s.admin, s.approvers[1])
    still = (await s.owner(RESTART, {"i": {"dealId": deal_id}}))["restartDealApproval"]
    assert [e["code"] for e in still["userErrors"]] == ["APPROVAL_APPROVER_INELIGIBLE"]
    replaced = await s.admin(
        UPDATE_APPROVALS,
        {"i": {"pipelineId": s.pipeline["id"], "approverIds": [str(s.approvers[0].user_id)]}},
    )
    assert replaced["updateDealApprovals"]["userErrors"] == []
    restarted = (await s.owner(RESTART, {"i": {"dealId": deal_id}}))["restartDealApproval"]
    assert restarted["userErrors"] == []
    assert restarted["approval"]["status"] == "PENDING"
    approved = (await s.approvers[0](APPROVE, {"i": {"dealId": deal_id}}))["approveDeal"]
    assert approved["approval"]["status"] == "APPROVED"


async def test_the_note_to_approvers_is_on_the_request_its_notification_and_its_email(app: Harness) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.owner, deal_id, s.stages["Pending approval"])
    approval = await s.owner("query($id: ID!) { deal(id: $id) { approval { note } } }", {"id": deal_id})
    assert approval["deal"]["approval"]["note"] == "Check the discount"
    notes = [e["node"]["message"] for e in (await s.approvers[0](NOTES))["notifications"]["edges"]]
    assert any("Check the discount" in m for m in notes), notes
    bodies = [r["body"] for r in await app.pool.fetch("SELECT body FROM email_outbox")]
    assert bodies and all("Check the discount" in b for b in bodies)


async def test_a_request_for_changes_notifies_the_owner_and_whoever_submitted_the_deal(app: Harness) -> None:
    s = await setup(app)
    deal_id = await deal_in(s, "Appointment scheduled")
    await move(s.admin, deal_id, s.stages["Pending approval"])  # submitted by someone other than the owner
    asked = await s.approvers[0](REQUEST, {"i": {"dealId": deal_id, "comment": "Lower the discount"}})
    assert asked["requestDealChanges"]["userErrors"] == []
    for client in (s.owner, s.admin):
        kinds = [e["node"]["kind"] for e in (await client(NOTES))["notifications"]["edges"]]
        assert "APPROVAL_CHANGES_REQUESTED" in kinds, kinds


async def test_restarting_an_approval_needs_edit_scope_on_the_deal(app: Harness) -> None:
    from domain.records import Scope

    s = await setup(app)
    teammate = await app.user(view_scope=Scope.ALL, edit_scope=Scope.OWNED)
    deal_id = await deal_in(s, "Appointment scheduled")
    await s.admin(UPDATE_USER, {"i": {"id": str(s.approvers[0].user_id), "active": False}})
    await move(s.owner, deal_id, s.stages["Pending approval"])  # NOT_STARTED: an approver is deactivated
    await s.admin(UPDATE_USER, {"i": {"id": str(s.approvers[0].user_id), "active": True}})
    emails_before = await app.pool.fetchval("SELECT count(*) FROM email_outbox")
    refused = (await teammate(RESTART, {"i": {"dealId": deal_id}}))["restartDealApproval"]
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    assert await app.pool.fetchval("SELECT count(*) FROM email_outbox") == emails_before
    restarted = (await s.owner(RESTART, {"i": {"dealId": deal_id}}))["restartDealApproval"]
    assert restarted["approval"]["status"] == "PENDING"


async def test_commenting_on_a_deal_the_caller_cannot_see_reads_as_not_found_like_a_missing_one(
    app: Harness,
) -> None:
    from tests.api.test_approvals import COMMENT

    s = await setup(app)
    hidden = await deal_in(s, "Appointment scheduled")  # no approval; approvers see only OWNED
    answers = []
    for deal_id in (hidden, "999999"):
        body = await s.approvers[0](COMMENT, {"i": {"dealId": deal_id, "body": "hello"}})
        [error] = body["commentOnDealApproval"]["userErrors"]
        answers.append(error["code"])
    assert answers == ["NOT_FOUND", "NOT_FOUND"]
