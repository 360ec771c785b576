"""The quotes list (filters, scope, keyset pages) and the approval link (seed 001)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dealflow.settings import Settings
from domain.records import Scope
from tests.api.test_quotes import APPROVE, PUBLISH, call, draft, setup
from tests.api.test_records import make_deal
from tests.harness import Client, Harness, live_server

QUOTES = """query($g: [FilterGroup!], $first: Int, $after: String, $sort: SortInput) {
  quotes(filterGroups: $g, first: $first, after: $after, sort: $sort) {
    edges { node { id title status approver { id } } cursor } pageInfo { hasNextPage endCursor } totalCount } }"""
APPROVAL_URL = "query($id: ID!) { quote(id: $id) { approvalUrl } }"


def eq(prop: str, value: str) -> dict[str, str]:
    return {"property": prop, "operator": "EQ", "value": value}


async def listed(client: Client, *groups: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    data = await client(QUOTES, {"g": [{"filters": g} for g in groups] or None, **more})
    found: dict[str, Any] = data["quotes"]
    return found


def ids(page: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


async def test_an_approver_lists_the_quotes_awaiting_their_approval_and_not_the_deals_other_quotes(
    app: Harness,
) -> None:
    s = await setup(app)
    awaiting, other, approved = [(await draft(s, title=t))["id"] for t in ("A", "B", "C")]
    await call(s.seller, PUBLISH, id=awaiting)
    await call(s.seller, PUBLISH, id=approved)
    await call(s.approver, APPROVE, id=approved)
    mine = [eq("status", "PENDING_APPROVAL"), eq("approverId", str(s.approver.user_id))]
    page = await listed(s.approver, mine)
    assert (ids(page), page["totalCount"]) == ([awaiting], 1)
    assert page["edges"][0]["node"]["status"] == "PENDING_APPROVAL"
    assert ids(await listed(s.approver)) == [awaiting]
    deal = await s.approver(f'{{ quote(id: "{awaiting}") {{ deal {{ quotes {{ id }} }} }} }}')
    assert deal["quote"]["deal"]["quotes"] == [{"id": awaiting}]
    assert sorted(ids(await listed(s.seller))) == sorted([awaiting, other, approved])
    assert ids(await listed(s.seller, mine)) == [awaiting]


async def test_quotes_filter_by_status_deal_creator_and_approver(app: Harness) -> None:
    s = await setup(app)
    second_seller = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    other_deal = (await make_deal(s.admin, ownerId=str(second_seller.user_id)))["id"]
    first = (await draft(s, title="First"))["id"]
    created = await call(second_seller, "mutation($i: CreateQuoteInput!) { createQuote(input: $i) { quote { id } } }",
                         dealId=other_deal, title="Second")  # fmt: skip
    second = created["quote"]["id"]
    await call(second_seller, PUBLISH, id=second)
    assert ids(await listed(s.admin, [eq("dealId", other_deal)])) == [second]
    assert ids(await listed(s.admin, [eq("createdById", str(s.seller.user_id))])) == [first]
    assert ids(await listed(s.admin, [eq("approverId", str(s.approver.user_id))])) == [second]
    assert ids(await listed(s.admin, [eq("status", "DRAFT")], [eq("status", "PENDING_APPROVAL")], sort={
        "property": "title", "direction": "ASC"})) == [first, second]  # fmt: skip
    nobody = await listed(s.admin, [eq("status", "SIGNED")])
    assert (nobody["edges"], nobody["totalCount"]) == ([], 0)


async def test_quotes_page_through_keyset_cursors_without_gaps_or_repeats(app: Harness) -> None:
    s = await setup(app, approval=False)
    made = [(await draft(s, title=f"Q{n}"))["id"] for n in range(5)]
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = await listed(s.seller, first=2, after=after, sort={"property": "title", "direction": "DESC"})
        seen += ids(page)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == list(reversed(made)) and page["totalCount"] == 5
    newest = await listed(s.seller, first=5)
    assert ids(newest) == list(reversed(made))


async def test_a_viewer_outside_the_deals_scope_lists_none_of_its_quotes(app: Harness) -> None:
    s = await setup(app, approval=False)
    await draft(s)
    outsider = await app.user(view_scope=Scope.OWNED)
    page = await listed(outsider)
    assert (page["edges"], page["totalCount"]) == ([], 0)


async def test_a_bad_quote_filter_or_sort_is_a_clear_error(app: Harness) -> None:
    s = await setup(app, approval=False)
    body = await s.seller.raw(QUOTES, {"g": [{"filters": [eq("status", "SENT")]}]})
    assert "'SENT' is not one of" in body["errors"][0]["message"] and body["data"] is None
    body = await s.seller.raw(QUOTES, {"sort": {"property": "stageId", "direction": "ASC"}})
    assert "unknown property 'stageId' for QUOTE" in body["errors"][0]["message"]


@pytest.fixture
async def app_with_url(pool: asyncpg.Pool, db_dsn: str) -> AsyncIterator[Harness]:
    settings = Settings(env="production", app_url="https://app.example.com")
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        yield Harness(pool=pool, server=server, http=http)


async def test_the_approval_url_points_at_app_url_for_the_creator_and_the_approver_only(
    app_with_url: Harness,
) -> None:
    s = await setup(app_with_url)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    link = f"https://app.example.com/quotes/{quote_id}/approval"
    for client in (s.seller, s.approver):
        assert (await client(APPROVAL_URL, {"id": quote_id}))["quote"]["approvalUrl"] == link
    assert (await s.admin(APPROVAL_URL, {"id": quote_id}))["quote"]["approvalUrl"] is None


async def test_without_app_url_the_approval_url_is_null(app: Harness) -> None:
    s = await setup(app)
    quote_id = (await draft(s))["id"]
    await call(s.seller, PUBLISH, id=quote_id)
    assert (await s.approver(APPROVAL_URL, {"id": quote_id}))["quote"]["approvalUrl"] is None


def test_app_url_is_read_from_the_environment_without_a_trailing_slash() -> None:
    assert Settings.from_env({"APP_URL": "https://app.example.com/"}).app_url == "https://app.example.com"
    assert Settings.from_env({}).app_url is None
