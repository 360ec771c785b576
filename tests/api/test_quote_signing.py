"""Signing a published quote on its page over HTTP: once, with a name and an email, and what follows (seed 001)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from db import events as event_store
from tests.api.test_approvals import deal_in
from tests.api.test_approvals import setup as approval_setup
from tests.api.test_quotes import CREATE, LINES, NOTES, PUBLISH, RECALL, Setup, call, draft, setup
from tests.api.test_records import pipeline
from tests.api.test_write_paths import CREATE_QUOTE_WORKFLOW, RUNS
from tests.harness import Client, Harness, db_id

SIGNER = {"name": "Ada Lovelace", "email": "ada@example.com"}
SIGNED = "query($id: ID!) { quote(id: $id) { status signedAt signerName signerEmail shareUrl } }"
DEAL = "query($id: ID!) { deal(id: $id) { stage { id label } } }"


async def published(s: Setup, **fields: Any) -> tuple[str, str]:
    quote = await draft(s, **fields)
    url: str = (await call(s.seller, PUBLISH, id=quote["id"]))["quote"]["shareUrl"]
    return quote["id"], url


async def sign(app: Harness, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return await app.http.post(f"{url}/sign", json=SIGNER if body is None else body)


def refusal(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["userErrors"][0]["code"]


async def quote_row(app: Harness) -> list[tuple[Any, ...]]:
    rows = await app.pool.fetch("SELECT status, signed_at, signer_name, version FROM quotes ORDER BY id")
    return [tuple(r) for r in rows]


async def test_a_prospect_signs_a_published_quote_once_and_the_creator_is_told(app: Harness) -> None:
    s = await setup(app, approval=False)
    quote_id, url = await published(s)
    signed = await sign(app, url)
    assert signed.status_code == 200 and signed.json()["quote"]["status"] == "SIGNED"
    seen = (await s.seller(SIGNED, {"id": quote_id}))["quote"]
    assert (seen["status"], seen["signerName"], seen["signerEmail"]) == ("SIGNED", *SIGNER.values())
    assert seen["signedAt"] and seen["shareUrl"] == url
    note = (await s.seller(NOTES))["notifications"]["edges"][0]["node"]
    assert note["kind"] == "QUOTE_SIGNED" and "Ada Lovelace" in note["message"]
    assert note["quote"] == {"id": quote_id, "status": "SIGNED"}
    await event_store.stamp(app.pool)  # unstamped events hold pending (negative) sequences
    event = await app.pool.fetchrow("SELECT payload FROM events WHERE type = 'quote.status_changed' ORDER BY sequence DESC LIMIT 1")  # fmt: skip
    assert (event["payload"]["from_status"], event["payload"]["to_status"], event["payload"]["action"]) == (
        "PUBLISHED", "SIGNED", "SIGN",
    )  # fmt: skip
    before = await quote_row(app)
    assert refusal(await sign(app, url, {"name": "Eve", "email": "eve@example.com"})) == (
        409, "QUOTE_ALREADY_SIGNED",
    )  # fmt: skip
    assert await quote_row(app) == before


async def test_a_form_post_signs_and_sends_the_browser_back_to_the_signed_page(app: Harness) -> None:
    s = await setup(app, approval=False)
    _, url = await published(s)
    page = await app.http.get(url)
    assert (
        f'action="{url}/sign"' in page.text
        and "form-action 'self'" in page.headers["content-security-policy"]
    )
    posted = await app.http.post(f"{url}/sign", data=SIGNER)
    assert (posted.status_code, posted.headers["location"]) == (303, url)
    after = await app.http.get(url)
    assert "Signed by Ada Lovelace" in after.text and "<form" not in after.text


async def test_an_expired_quote_cannot_be_signed(app: Harness) -> None:
    s = await setup(app, approval=False)
    _, url = await published(s, expiresAt="2020-01-01T00:00:00Z")
    assert "<form" not in (await app.http.get(url)).text
    assert refusal(await sign(app, url)) == (410, "QUOTE_EXPIRED")
    as_page = await app.http.post(f"{url}/sign", data=SIGNER)
    assert as_page.status_code == 410 and "expired" in as_page.text
    assert [r[0] for r in await quote_row(app)] == ["PUBLISHED"]


async def test_a_recalled_quote_cannot_be_signed(app: Harness) -> None:
    s = await setup(app, approval=False)
    quote_id, url = await published(s)
    await call(s.seller, RECALL, id=quote_id)
    assert refusal(await sign(app, url)) == (410, "QUOTE_RECALLED")
    assert [r[0] for r in await quote_row(app)] == ["RECALLED"]


async def test_an_unpublished_quote_or_an_unknown_link_cannot_be_signed(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    token = await app.pool.fetchval("SELECT public_token FROM quotes")
    assert refusal(await sign(app, f"/quotes/{token}")) == (409, "QUOTE_WRONG_STATUS")
    await call(s.seller, PUBLISH, id=quote_id)  # now awaiting approval: still not published
    assert refusal(await sign(app, f"/quotes/{token}")) == (409, "QUOTE_WRONG_STATUS")
    assert refusal(await sign(app, "/quotes/no-such-token-at-all-here")) == (404, "NOT_FOUND")
    assert refusal(await sign(app, "/quotes/bad!")) == (404, "NOT_FOUND")
    assert [r[0] for r in await quote_row(app)] == ["PENDING_APPROVAL"]


async def test_signing_needs_a_name_and_a_valid_email_and_bad_input_changes_nothing(app: Harness) -> None:
    s = await setup(app, approval=False)
    _, url = await published(s)
    before = await quote_row(app)
    bad = await sign(app, url, {"name": " ", "email": "nobody"})
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.json()["userErrors"]] == [
        (["name"], "INVALID"),
        (["email"], "INVALID"),
    ]
    assert (await sign(app, url, {"name": 5, "email": []})).status_code == 400
    assert (
        await app.http.post(f"{url}/sign", content=b"name=x", headers={"content-type": "text/plain"})
    ).status_code == 400
    assert (
        await app.http.post(f"{url}/sign", content=b"{", headers={"content-type": "application/json"})
    ).status_code == 400
    assert await quote_row(app) == before


async def test_two_signatures_at_once_sign_the_quote_once(app: Harness) -> None:
    s = await setup(app, approval=False)
    _, url = await published(s)
    answers = await asyncio.gather(
        *(sign(app, url, {"name": f"P{n}", "email": f"p{n}@example.com"}) for n in range(6))
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409, 409, 409]
    assert await app.pool.fetchval("SELECT count(*) FROM notifications WHERE kind = 'QUOTE_SIGNED'") == 1


async def when_signed_move_deal(admin: Client, stage_id: str) -> str:
    made = await admin(
        CREATE_QUOTE_WORKFLOW,
        {"i": {"name": "Signed: move the deal", "trigger": {"event": "PROPERTY_CHANGED", "property": "status",
               "filterGroups": [{"filters": [{"property": "status", "operator": "EQ", "value": "SIGNED"}]}]},
               "actions": [{"type": "SET_PROPERTY", "property": "deal.stageId", "value": stage_id}]}},
    )  # fmt: skip
    assert made["createQuoteWorkflow"]["userErrors"] == []
    workflow_id: str = made["createQuoteWorkflow"]["workflow"]["id"]
    return workflow_id


async def outcomes(admin: Client, workflow_id: str) -> list[dict[str, Any]]:
    runs = {w["id"]: w["runs"]["edges"] for w in (await admin(RUNS))["workflows"]}
    return [o for run in runs[workflow_id] for o in run["node"]["outcomes"]]


async def test_a_signed_quote_moves_its_deal_to_the_stage_a_quote_workflow_names(app: Harness) -> None:
    s = await setup(app, approval=False)
    stages = (await pipeline(s.admin))["stages"]
    workflow_id = await when_signed_move_deal(s.admin, stages[1]["id"])
    _, url = await published(s)
    assert (await s.admin(DEAL, {"id": s.deal_id}))["deal"]["stage"]["id"] == stages[0]["id"]
    assert (await sign(app, url)).status_code == 200
    assert (await s.admin(DEAL, {"id": s.deal_id}))["deal"]["stage"]["id"] == stages[1]["id"]
    [done] = await outcomes(s.admin, workflow_id)
    assert (done["actionType"], done["ok"], done["code"]) == ("SET_PROPERTY", True, None)
    moved = await app.pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'deal.moved' AND deal_id = $1", db_id(s.deal_id)
    )
    assert moved == 1


async def test_a_signed_quote_cannot_move_its_deal_past_the_approval_stage_without_approval(
    app: Harness,
) -> None:
    a = await approval_setup(app)
    deal_id = await deal_in(a, "Appointment scheduled")
    workflow_id = await when_signed_move_deal(a.admin, a.stages["Closed won"])
    created = await call(a.owner, CREATE, dealId=deal_id, title="Q-1", lineItems=LINES)
    url = (await call(a.owner, PUBLISH, id=created["quote"]["id"]))["quote"]["shareUrl"]
    assert (await sign(app, url)).status_code == 200
    assert (await a.admin(DEAL, {"id": deal_id}))["deal"]["stage"]["label"] == "Appointment scheduled"
    [refused] = await outcomes(a.admin, workflow_id)
    assert (refused["ok"], refused["code"]) == (False, "APPROVAL_REQUIRED")
    assert "approval" in refused["message"].lower()
    assert await app.pool.fetchval("SELECT status FROM quotes") == "SIGNED"


async def test_a_quote_workflow_needs_a_stage_id_to_move_the_deal(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    made = await admin(
        CREATE_QUOTE_WORKFLOW,
        {"i": {"trigger": {"event": "CREATED"}, "actions": [{"type": "SET_PROPERTY", "property": "deal.stageId", "value": "won"}]}},
    )  # fmt: skip
    assert [e["code"] for e in made["createQuoteWorkflow"]["userErrors"]] == ["INVALID"]
    assert await app.pool.fetchval("SELECT count(*) FROM workflows") == 0
