"""Quotes through the API: totals, approval flow, automations, recall, scope, the page, the stream (seed 001)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from db import events as event_store
from domain.records import Scope
from tests.api.test_records import make_deal
from tests.harness import Client, Harness, gid

QUOTE = "id status title total subtotal discountTotal currency version publishedAt shareUrl changeNotes properties"
QUOTE_FIELDS = f"{QUOTE} lineItems {{ name quantity unitPrice discountPercent amount }} approver {{ id }}"
ERRORS = "userErrors { field message code }"
SETTINGS = f"mutation($i: SetQuoteApprovalSettingsInput!) {{ setQuoteApprovalSettings(input: $i) {{ ok {ERRORS} }} }}"
WORKFLOWS = "{ workflows { id name objectType enabled systemKey actions { id type title } } }"
READ = f"query($id: ID!) {{ quote(id: $id) {{ {QUOTE_FIELDS} deal {{ id }} createdBy {{ id }} }} }}"
TASKS = "query($a: ID) { tasks(assigneeId: $a) { edges { node { title body assignee { id } } } } }"
NOTES = "{ notifications { edges { node { kind message quote { id status } } } } }"
LINES = [{"name": "Seat", "quantity": 3, "unitPrice": "19.99", "discountPercent": 15},
         {"name": "Onboarding", "quantity": 1, "unitPrice": "0.125"}]  # fmt: skip


def mutation(name: str, kind: str) -> str:
    return f"mutation($i: {kind}!) {{ {name}(input: $i) {{ quote {{ {QUOTE_FIELDS} }} {ERRORS} }} }}"


CREATE = mutation("createQuote", "CreateQuoteInput")
UPDATE = mutation("updateQuote", "UpdateQuoteInput")
PUBLISH = mutation("publishQuote", "PublishQuoteInput")
APPROVE = mutation("approveQuote", "ApproveQuoteInput")
REQUEST = mutation("requestQuoteChanges", "RequestQuoteChangesInput")
RECALL = mutation("recallQuote", "RecallQuoteInput")


@dataclass
class Setup:
    admin: Client
    seller: Client  # owns the deal and creates quotes; sees only what they own
    approver: Client  # sees only what they own: quotes reach them by awaiting their decision
    deal_id: str


async def setup(app: Harness, *, approval: bool = True) -> Setup:
    admin = await app.user(super_admin=True)
    seller = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    approver = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    deal = await make_deal(admin, ownerId=str(seller.user_id))
    if approval:
        on = await admin(SETTINGS, {"i": {"required": True, "approverId": str(approver.user_id)}})
        assert on["setQuoteApprovalSettings"] == {"ok": True, "userErrors": []}
    return Setup(admin, seller, approver, deal["id"])


async def call(client: Client, document: str, **fields: Any) -> dict[str, Any]:
    data = await client(document, {"i": fields})
    result: dict[str, Any] = next(iter(data.values()))
    return result


async def draft(s: Setup, **fields: Any) -> dict[str, Any]:
    created = await call(
        s.seller, CREATE, **{"dealId": s.deal_id, "title": "Q-1", "lineItems": LINES, **fields}
    )
    assert created["userErrors"] == [], created
    quote: dict[str, Any] = created["quote"]
    return quote


async def quote_rows(app: Harness) -> list[tuple[str, int]]:
    return [(r["status"], r["version"]) for r in await app.pool.fetch("SELECT status, version FROM quotes")]


async def test_a_quote_totals_its_line_items_exactly_rounding_half_up_to_cents(app: Harness) -> None:
    quote = await draft(await setup(app, approval=False))
    assert [(i["amount"], i["discountPercent"]) for i in quote["lineItems"]] == [
        ("50.97", 15.0),
        ("0.13", 0.0),
    ]
    assert (quote["subtotal"], quote["discountTotal"], quote["total"]) == ("60.10", "9.00", "51.10")
    assert (quote["status"], quote["currency"], quote["shareUrl"]) == ("DRAFT", "USD", None)


async def test_without_required_approval_the_creator_publishes_directly(app: Harness) -> None:
    s = await setup(app, approval=False)
    published = (await call(s.seller, PUBLISH, id=(await draft(s))["id"]))["quote"]
    assert published["status"] == "PUBLISHED" and published["publishedAt"] and published["shareUrl"]
    assert await app.pool.fetchval("SELECT count(*) FROM engagements") == 0


async def test_requiring_approval_installs_three_visible_workflows_and_turning_it_off_disables_them(
    app: Harness,
) -> None:
    s = await setup(app)
    workflows = (await s.admin(WORKFLOWS))["workflows"]
    assert sorted(w["name"] for w in workflows) == [
        "When a quote is approved", "When a quote needs approval", "When changes are requested on a quote",
    ]  # fmt: skip
    assert all(w["enabled"] and w["objectType"] == "QUOTE" and w["systemKey"] for w in workflows)
    off = await call(s.admin, SETTINGS, required=False, approverId=str(s.approver.user_id))
    assert off["ok"] and not any(w["enabled"] for w in (await s.admin(WORKFLOWS))["workflows"])
    await call(s.admin, SETTINGS, required=True, approverId=str(s.approver.user_id))
    again = (await s.admin(WORKFLOWS))["workflows"]
    assert len(again) == 3 and all(w["enabled"] for w in again)


async def test_only_super_admins_change_quote_approval_and_it_needs_an_approver(app: Harness) -> None:
    s = await setup(app, approval=False)
    body = await s.seller.raw(SETTINGS, {"i": {"required": True, "approverId": str(s.seller.user_id)}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await call(s.admin, SETTINGS, required=True)
    assert (refused["ok"], refused["userErrors"][0]["code"]) == (False, "QUOTE_APPROVER_REQUIRED")
    assert await app.pool.fetchval("SELECT count(*) FROM workflows") == 0


async def test_changes_requested_then_resubmitted_then_approved_publishes_and_tells_the_creator(
    app: Harness,
) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    pending = (await call(s.seller, PUBLISH, id=quote_id))["quote"]
    assert (pending["status"], pending["approver"]) == (
        "PENDING_APPROVAL",
        {"id": gid("User", s.approver.user_id)},
    )
    note = (await s.approver(NOTES))["notifications"]["edges"][0]["node"]
    assert note["kind"] == "QUOTE_PENDING_APPROVAL" and note["quote"] == {
        "id": quote_id,
        "status": "PENDING_APPROVAL",
    }
    task = (await s.approver(TASKS))["tasks"]["edges"][0]["node"]
    assert task["title"] == "Review quote 'Q-1'" and task["assignee"] == {
        "id": gid("User", s.approver.user_id)
    }

    changes = (await call(s.approver, REQUEST, id=quote_id, notes="Discount too deep"))["quote"]
    assert (changes["status"], changes["changeNotes"]) == ("CHANGES_REQUESTED", "Discount too deep")
    task = (await s.seller(TASKS))["tasks"]["edges"][0]["node"]
    assert task["body"] == "Discount too deep" and task["assignee"] == {"id": gid("User", s.seller.user_id)}
    lines = [{**LINES[0], "discountPercent": 5}]
    edited = await call(s.seller, UPDATE, id=quote_id, lineItems=lines)
    assert (edited["quote"]["status"], edited["quote"]["total"]) == ("CHANGES_REQUESTED", "56.97")
    assert (await call(s.seller, PUBLISH, id=quote_id))["quote"]["status"] == "PENDING_APPROVAL"

    approved = (await call(s.approver, APPROVE, id=quote_id, message="Good"))["quote"]
    assert approved["status"] == "PUBLISHED" and approved["publishedAt"]
    assert approved["properties"] == {"approval_status": "APPROVED"}
    kinds = [e["node"]["kind"] for e in (await s.seller(NOTES))["notifications"]["edges"]]
    kinds = [k for k in kinds if k != "OWNER_ASSIGNED"]  # the deal was assigned to the seller at creation
    assert kinds == ["QUOTE_APPROVED", "QUOTE_CHANGES_REQUESTED"]
    await event_store.stamp(app.pool)  # unstamped events hold pending (negative) sequences
    statuses = await app.pool.fetch(
        "SELECT payload->>'to_status' AS s FROM events WHERE type = 'quote.status_changed' ORDER BY sequence"
    )
    assert [r["s"] for r in statuses][-2:] == ["APPROVED", "PUBLISHED"]


async def test_requesting_changes_needs_notes_and_changes_nothing(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    before = await quote_rows(app)
    refused = await call(s.approver, REQUEST, id=quote_id, notes="  ")
    assert refused["userErrors"] == [{"field": ["notes"], "message": refused["userErrors"][0]["message"],
                                      "code": "QUOTE_NOTES_REQUIRED"}]  # fmt: skip
    assert await quote_rows(app) == before


async def test_only_the_approver_approves_or_requests_changes_not_the_creator(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    before = await quote_rows(app)
    for client in (s.seller, s.admin):
        assert (await call(client, APPROVE, id=quote_id))["userErrors"][0]["code"] == "NOT_APPROVER"
        assert (await call(client, REQUEST, id=quote_id, notes="x"))["userErrors"][0][
            "code"
        ] == "NOT_APPROVER"
    assert await quote_rows(app) == before


async def test_the_approver_sees_a_quote_only_while_it_awaits_their_decision(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    assert (await s.approver(READ, {"id": quote_id}))["quote"] is None
    await call(s.seller, PUBLISH, id=quote_id)
    seen = (await s.approver(READ, {"id": quote_id}))["quote"]
    assert (seen["status"], seen["deal"]) == ("PENDING_APPROVAL", {"id": s.deal_id})
    await call(s.approver, APPROVE, id=quote_id)
    assert (await s.approver(READ, {"id": quote_id}))["quote"] is None


async def test_a_published_quote_is_read_only(app: Harness) -> None:
    s = await setup(app, approval=False)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    before = await quote_rows(app)
    refused = await call(s.seller, UPDATE, id=quote_id, title="Cheaper")
    assert refused["userErrors"][0]["code"] == "QUOTE_NOT_EDITABLE"
    assert await quote_rows(app) == before


async def test_a_recalled_quote_is_editable_as_a_draft_and_needs_approval_again(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    url = (await call(s.approver, APPROVE, id=quote_id))["quote"]["shareUrl"]
    assert (await app.http.get(url)).status_code == 200
    recalled = (await call(s.seller, RECALL, id=quote_id))["quote"]
    assert (recalled["status"], recalled["publishedAt"], recalled["shareUrl"]) == ("RECALLED", None, None)
    assert (await app.http.get(url)).status_code == 404
    edited = (await call(s.seller, UPDATE, id=quote_id, title="Q-1 v2"))["quote"]
    assert (edited["status"], edited["title"]) == ("DRAFT", "Q-1 v2")
    assert (await call(s.seller, PUBLISH, id=quote_id))["quote"]["status"] == "PENDING_APPROVAL"


async def test_negative_quantities_and_discounts_outside_0_to_100_are_refused_and_nothing_changes(
    app: Harness,
) -> None:
    s = await setup(app)
    bad = [{"name": "Seat", "quantity": -1, "unitPrice": "10"},
           {"name": "Seat", "quantity": 1, "unitPrice": "10", "discountPercent": 100.5}]  # fmt: skip
    refused = await call(s.seller, CREATE, dealId=s.deal_id, title="Q", lineItems=bad)
    assert [e["field"] for e in refused["userErrors"]] == [
        ["lineItems", "0", "quantity"], ["lineItems", "1", "discountPercent"],
    ]  # fmt: skip
    assert {e["code"] for e in refused["userErrors"]} == {"INVALID"} and refused["quote"] is None
    assert await quote_rows(app) == []
    quote_id = (await draft(s))["id"]
    negative = [{"name": "Seat", "quantity": 1, "unitPrice": "10", "discountPercent": -5}]
    assert (await call(s.seller, UPDATE, id=quote_id, lineItems=negative))["userErrors"][0][
        "code"
    ] == "INVALID"
    assert (await s.seller(READ, {"id": quote_id}))["quote"]["total"] == "51.10"


async def test_a_quote_on_a_deal_outside_the_callers_scope_reads_as_not_found(app: Harness) -> None:
    s = await setup(app, approval=False)
    outsider = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    refused = await call(outsider, CREATE, dealId=s.deal_id, title="Q", lineItems=LINES)
    assert (refused["userErrors"][0]["code"], refused["userErrors"][0]["field"]) == ("NOT_FOUND", ["dealId"])
    assert await quote_rows(app) == []
    quote_id = (await draft(s))["id"]
    assert (await outsider(READ, {"id": quote_id}))["quote"] is None
    assert (await call(outsider, PUBLISH, id=quote_id))["userErrors"][0]["code"] == "NOT_FOUND"
    assert await quote_rows(app) == [("DRAFT", 1)]


async def test_the_deal_lists_its_quotes_and_the_same_client_mutation_id_creates_once(app: Harness) -> None:
    s = await setup(app, approval=False)
    first = await draft(s, clientMutationId="k-1")
    again = await draft(s, clientMutationId="k-1")
    other = await draft(s)
    deal = await s.seller("query($id: ID!) { deal(id: $id) { quotes { id } } }", {"id": s.deal_id})
    assert first["id"] == again["id"] and deal["deal"]["quotes"] == [{"id": first["id"]}, {"id": other["id"]}]


async def test_a_stale_expected_version_changes_nothing(app: Harness) -> None:
    s = await setup(app, approval=False)
    quote = await draft(s)
    stale = await call(s.seller, UPDATE, id=quote["id"], title="New", expectedVersion=quote["version"] + 1)
    assert stale["userErrors"][0]["code"] == "VERSION_CONFLICT"
    assert await quote_rows(app) == [("DRAFT", 1)]


async def test_the_installed_workflows_are_editable_and_their_switch_is_obeyed(app: Harness) -> None:
    s = await setup(app)
    by_name = {w["name"]: w for w in (await s.admin(WORKFLOWS))["workflows"]}
    needs = by_name["When a quote needs approval"]
    action = {"id": needs["actions"][0]["id"], "title": "Check '{{title}}' today"}
    edited = await s.admin("mutation($i: UpdateWorkflowActionInput!) { updateWorkflowAction(input: $i) { userErrors { code } } }", {"i": action})  # fmt: skip
    assert edited["updateWorkflowAction"]["userErrors"] == []
    await call(s.seller, PUBLISH, id=(await draft(s))["id"])
    assert (await s.approver(TASKS))["tasks"]["edges"][0]["node"]["title"] == "Check 'Q-1' today"
    off = {"id": needs["id"], "enabled": False}
    await s.admin("mutation($i: SetWorkflowEnabledInput!) { setWorkflowEnabled(input: $i) { userErrors { code } } }", {"i": off})  # fmt: skip
    await call(s.seller, PUBLISH, id=(await draft(s))["id"])
    assert len((await s.approver(TASKS))["tasks"]["edges"]) == 1


async def test_the_installed_workflows_filters_are_obeyed(app: Harness) -> None:
    s = await setup(app)
    only_large = [[{"property": "status", "operator": "EQ", "value": "APPROVED"},
                   {"property": "total", "operator": "GT", "value": "1000"}]]  # fmt: skip
    await app.pool.execute(
        "UPDATE workflows SET filter_groups = $1 WHERE system_key = 'quote-approval:approved'", only_large
    )
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    approved = (await call(s.approver, APPROVE, id=quote_id))["quote"]
    assert (approved["status"], approved["properties"]) == ("PUBLISHED", {})


async def test_an_approval_and_a_request_for_changes_at_once_give_one_outcome(app: Harness) -> None:
    s = await setup(app)
    ids = [(await draft(s))["id"] for _ in range(10)]
    for quote_id in ids:
        await call(s.seller, PUBLISH, id=quote_id)
    results = await asyncio.gather(
        *(call(s.approver, APPROVE, id=i) for i in ids),
        *(call(s.approver, REQUEST, id=i, notes="n") for i in ids),
    )
    for approve, request in zip(results[:10], results[10:], strict=True):
        assert sorted([bool(approve["userErrors"]), bool(request["userErrors"])]) == [False, True]
    assert (
        await app.pool.fetchval(
            "SELECT count(*) FROM notifications WHERE kind NOT IN ('QUOTE_PENDING_APPROVAL', 'OWNER_ASSIGNED')"
        )
        == 10
    )


async def test_the_shared_page_escapes_everything_and_unknown_or_unpublished_tokens_are_404(
    app: Harness,
) -> None:
    s = await setup(app, approval=False)
    quote = await draft(s, title="<script>alert(1)</script>", terms="Net 30 & <b>no</b> returns")
    token = await app.pool.fetchval("SELECT public_token FROM quotes")
    assert (await app.http.get(f"/quotes/{token}")).status_code == 404  # a draft is not shared
    url = (await call(s.seller, PUBLISH, id=quote["id"]))["quote"]["shareUrl"]
    page = await app.http.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Net 30 &amp; &lt;b&gt;no&lt;/b&gt; returns" in page.text and "51.10 USD" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (await app.http.get("/quotes/no-such-token-at-all-here")).status_code == 404


STATUS_CHANGED = """
subscription($d: ID, $a: String) { quoteStatusChanged(dealId: $d, after: $a) {
  sequence type action quote { id status total lineItems { amount } } } }"""


async def test_quote_status_changes_stream_in_scope_and_resume(app: Harness) -> None:
    s = await setup(app)
    outsider = await app.user(view_scope=Scope.OWNED)
    head = str(await event_store.stamp(app.pool))
    async with app.ws(s.seller) as seller, app.ws(outsider) as other:
        await seller.subscribe(STATUS_CHANGED, {"d": s.deal_id, "a": head})
        await other.subscribe(STATUS_CHANGED, {"a": head})
        quote_id = (await draft(s))["id"]
        await call(s.seller, PUBLISH, id=quote_id)
        await call(s.approver, APPROVE, id=quote_id)
        seen = [(await seller.next())["quoteStatusChanged"] for _ in range(4)]
        assert [(e["type"], e["quote"]["status"]) for e in seen] == [
            ("quote.created", "DRAFT"), ("quote.status_changed", "PENDING_APPROVAL"),
            ("quote.status_changed", "APPROVED"), ("quote.status_changed", "PUBLISHED"),
        ]  # fmt: skip
        assert seen[3]["action"] == "APPROVE" and seen[3]["quote"]["total"] == "51.10"
        assert await other.nothing_within(0.3)
    async with app.ws(s.approver) as approver:  # resumable; read now, the quote no longer awaits them
        await approver.subscribe(STATUS_CHANGED, {"a": head})
        got = [(await approver.next())["quoteStatusChanged"] for _ in range(2)]
        assert [(e["type"], e["quote"]) for e in got] == [("quote.status_changed", None)] * 2
        assert await approver.nothing_within(0.3)
