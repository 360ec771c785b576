"""One read path: every record reaching a response or an event is read through a scope-checked loader,
with the viewer's scope as it is at read time, replays included; the approver exceptions of DESIGN 2."""

from __future__ import annotations

from typing import Any

from db import events as event_store
from domain.records import Scope
from tests.api import test_approvals as approvals
from tests.api import test_quotes as quotes
from tests.api.test_records import CREATE_CONTACT, UPDATE_CONTACT, make_deal, pipeline
from tests.harness import Client, Harness

ASSIGN = "mutation($i: AssignOwnerInput!) { assignOwner(input: $i) { count userErrors { code } } }"
UPDATE_DEAL = "mutation($i: UpdateDealInput!) { updateDeal(input: $i) { deal { id } userErrors { code } } }"
BOARD_REPLAY = """
subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) {
  type deal { id name quotes { title lineItems { unitPrice } } approval { id } } } }"""
QUOTES_REPLAY = """
subscription($a: String) { quoteStatusChanged(after: $a) {
  type quote { id title deal { name amount owner { email } } } } }"""
LINES = [{"name": "Seat", "quantity": 1, "unitPrice": "10.00"}]


async def quote_on(client: Client, deal_id: str, title: str) -> str:
    made = await quotes.call(client, quotes.CREATE, dealId=deal_id, title=title, lineItems=LINES)
    assert made["userErrors"] == [], made
    quote_id: str = made["quote"]["id"]
    return quote_id


async def hand_over(admin: Client, deal_id: str, to: Client) -> None:
    moved = await admin(ASSIGN, {"i": {"objectType": "DEAL", "ids": [deal_id], "ownerId": str(to.user_id)}})
    assert moved["assignOwner"]["userErrors"] == []


async def events_of(ws: Any, field: str) -> list[dict[str, Any]]:
    """Everything the socket sends until it is quiet for a moment."""
    got: list[dict[str, Any]] = []
    while True:
        try:
            got.append((await ws.next(timeout=0.6))[field])
        except TimeoutError:
            return got


async def test_a_replay_never_shows_a_deal_handed_away_nor_its_new_quotes_to_its_former_owner(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    barbara = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    grace = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    p = await pipeline(admin)
    old = str(await event_store.stamp(app.pool))
    deal = await make_deal(barbara, name="Barbara's", ownerId=str(barbara.user_id))
    await quote_on(barbara, deal["id"], "Barbara's quote")
    await hand_over(admin, deal["id"], grace)
    await grace(UPDATE_DEAL, {"i": {"id": deal["id"], "name": "Grace's now"}})
    await quote_on(grace, deal["id"], "Grace's quote")
    assert (await barbara("query($id: ID!) { deal(id: $id) { id } }", {"id": deal["id"]}))["deal"] is None
    async with app.ws(barbara) as ws:
        await ws.subscribe(BOARD_REPLAY, {"p": p["id"], "a": old})
        seen = await events_of(ws, "boardChanged")
    shown = repr(seen)
    assert "Grace's" not in shown and "unitPrice" not in shown.replace("'lineItems': []", "")
    assert all(e["deal"] is None for e in seen), seen  # she can no longer see the deal at all


async def test_a_replayed_quote_event_never_shows_its_deal_as_it_is_now_to_its_former_owner(
    app: Harness,
) -> None:
    admin = await app.user(super_admin=True)
    barbara = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    grace = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED, email="grace@example.com")
    old = str(await event_store.stamp(app.pool))
    deal = await make_deal(barbara, name="Barbara's", ownerId=str(barbara.user_id))
    await quote_on(barbara, deal["id"], "Barbara's quote")
    await hand_over(admin, deal["id"], grace)
    await grace(UPDATE_DEAL, {"i": {"id": deal["id"], "name": "Grace's now", "amount": "999"}})
    async with app.ws(barbara) as ws:
        await ws.subscribe(QUOTES_REPLAY, {"a": old})
        seen = await events_of(ws, "quoteStatusChanged")
    assert "Grace's now" not in repr(seen) and "grace@example.com" not in repr(seen)
    assert all(e["quote"] is None for e in seen), seen


async def test_an_open_socket_reads_nested_records_as_they_are_at_each_event(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    contact = await admin(CREATE_CONTACT, {"input": {"email": "c@example.com", "firstName": "Before"}})
    cid = contact["createContact"]["contact"]["id"]
    p = await pipeline(admin)
    query = "subscription($p: ID!) { boardChanged(pipelineId: $p) { deal { name contacts { firstName } } } }"
    async with app.ws(await app.user(view_scope=Scope.ALL)) as ws:
        await ws.subscribe(query, {"p": p["id"]})
        await make_deal(admin, name="first", contactIds=[cid])
        assert (await ws.next())["boardChanged"]["deal"]["contacts"] == [{"firstName": "Before"}]
        renamed = await admin(UPDATE_CONTACT, {"input": {"id": cid, "firstName": "After"}})
        assert renamed["updateContact"]["userErrors"] == []
        await make_deal(admin, name="second", contactIds=[cid])
        assert (await ws.next())["boardChanged"]["deal"]["contacts"] == [{"firstName": "After"}]


async def test_the_quote_approver_sees_the_quotes_awaiting_them_not_the_deals_other_quotes(
    app: Harness,
) -> None:
    s = await quotes.setup(app)
    other = await quotes.draft(s, title="Not for the approver")
    awaiting = await quotes.draft(s, title="For the approver")
    await quotes.call(s.seller, quotes.PUBLISH, id=awaiting["id"])
    read = "query($id: ID!) { quote(id: $id) { id deal { id approval { id } quotes { id title lineItems { unitPrice } } } } }"
    seen = (await s.approver(read, {"id": awaiting["id"]}))["quote"]
    assert seen["deal"]["id"] == s.deal_id
    assert [q["title"] for q in seen["deal"]["quotes"]] == ["For the approver"]
    assert other["id"] not in [q["id"] for q in seen["deal"]["quotes"]]
    assert seen["deal"]["approval"] is None  # the deal's approval thread is not the quote approver's
    mine = (await s.seller(read, {"id": awaiting["id"]}))["quote"]["deal"]["quotes"]
    assert [q["title"] for q in mine] == ["Not for the approver", "For the approver"]


async def test_an_approver_keeps_seeing_the_deal_and_its_thread_while_changes_are_requested(
    app: Harness,
) -> None:
    s = await approvals.setup(app)
    deal_id = await approvals.pending_deal(s)
    approver = s.approvers[0]
    asked = await approver(approvals.REQUEST, {"i": {"dealId": deal_id, "comment": "Lower the discount"}})
    assert asked["requestDealChanges"]["userErrors"] == []
    seen = (await approver(approvals.DEAL, {"id": deal_id}))["deal"]
    assert seen is not None and seen["approval"]["status"] == "CHANGES_REQUESTED"
    notes = await s.owner("{ notifications { edges { node { kind deal { id } } } } }")
    assert all(e["node"]["deal"] == {"id": deal_id} for e in notes["notifications"]["edges"])


async def test_a_recorded_decision_by_an_approver_who_can_no_longer_see_the_deal_is_never_an_error(
    app: Harness,
) -> None:
    s = await approvals.setup(app, mode="ANY")
    deal_id = await approvals.pending_deal(s)
    document = "mutation($i: ApproveDealInput!) { approveDeal(input: $i) { approval { status deal { id name } } userErrors { code } } }"
    body = await s.approvers[0].raw(document, {"i": {"dealId": deal_id}})
    assert "errors" not in body, body
    decided = body["data"]["approveDeal"]
    assert decided["approval"] == {"status": "APPROVED", "deal": {"id": deal_id, "name": "Big deal"}}
    assert (await s.approvers[0](approvals.DEAL, {"id": deal_id}))["deal"] is None  # closed: out of sight


async def test_deal_approval_changed_delivers_the_deal_to_an_approver_whose_scope_is_all(
    app: Harness,
) -> None:
    s = await approvals.setup(app)
    wide = await app.user(approver=True, view_scope=Scope.ALL)
    await s.admin(
        "mutation($i: DealApprovalsInput!) { updateDealApprovals(input: $i) { userErrors { code } } }",
        {"i": {"pipelineId": s.pipeline["id"], "approverIds": [str(wide.user_id)]}},
    )
    query = """subscription($p: ID) { dealApprovalChanged(pipelineId: $p) {
      type deal { id name } approval { status deal { id name } } } }"""
    async with app.ws(wide) as ws:
        await ws.subscribe(query, {"p": s.pipeline["id"]})
        deal_id = await approvals.pending_deal(s)
        got = (await ws.next())["dealApprovalChanged"]
    assert got["deal"] == got["approval"]["deal"] == {"id": deal_id, "name": "Big deal"}
