"""Every connection pages both ways (DESIGN 10): first/after and last/before give the same items in the
same order, with a full PageInfo at both ends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import test_quotes as quotes
from tests.api.test_records import CREATE_CONTACT, make_deal
from tests.api.test_workflows import CREATE_WORKFLOW
from tests.harness import Client, Harness

ARGS = "first: $first, after: $after, last: $last, before: $before"
VARS = "$first: Int, $after: String, $last: Int, $before: String"
PAGE = "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
CONTACTS = f"query({VARS}, $sort: SortInput) {{ contacts({ARGS}, sort: $sort) {{ {PAGE} }} }}"
QUOTES = f"query({VARS}) {{ quotes({ARGS}) {{ {PAGE} }} }}"
TASKS = f"query({VARS}) {{ tasks({ARGS}) {{ {PAGE} }} }}"
NOTIFICATIONS = f"query({VARS}) {{ notifications({ARGS}) {{ {PAGE} }} }}"
RUNS = f"query({VARS}) {{ workflows {{ runs({ARGS}) {{ {PAGE} }} }} }}"
DELIVERIES = f"query({VARS}) {{ webhooks {{ deliveries({ARGS}) {{ edges {{ cursor node {{ id sequence }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
CREATE_TASK = "mutation($i: CreateEngagementInput!) { createEngagement(input: $i) { userErrors { code } } }"
CREATE_WEBHOOK = """mutation { createWebhook(input: {url: "https://hooks.example.com/p", eventTypes: ["x.never"]}) {
  webhook { id } } }"""


def connection_of(data: dict[str, Any]) -> dict[str, Any]:
    """The one connection in an answer, under a list field (workflows, webhooks) or not."""
    found: Any = next(iter(data.values()))
    while isinstance(found, list) or "edges" not in found:
        found = found[0] if isinstance(found, list) else next(iter(found.values()))
    return found  # type: ignore[no-any-return]


async def page(client: Client, document: str, **given: Any) -> dict[str, Any]:
    sizes = {"first": None, "after": None, "last": None, "before": None}  # null, not absent: see cost
    found = connection_of(await client(document, {**sizes, **given}))
    edges, info = found["edges"], found["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
    return found


async def forward(client: Client, document: str, size: int, **extra: Any) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        found = await page(client, document, first=size, after=after, **extra)
        seen += [e["node"]["id"] for e in found["edges"]]
        assert found["pageInfo"]["hasPreviousPage"] is False
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        after = found["pageInfo"]["endCursor"]


async def backward(client: Client, document: str, size: int, **extra: Any) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        found = await page(client, document, last=size, before=before, **extra)
        seen = [e["node"]["id"] for e in found["edges"]] + seen
        assert found["pageInfo"]["hasNextPage"] is False
        if not found["pageInfo"]["hasPreviousPage"]:
            return seen
        before = found["pageInfo"]["startCursor"]


async def both_ways(client: Client, document: str, count: int | None, **extra: Any) -> list[str]:
    """The whole list in one page, then forward and backward in pages of 2 and 3: the same items."""
    whole = await page(client, document, first=20, **extra)  # the whole list
    ids = [e["node"]["id"] for e in whole["edges"]]
    assert len(set(ids)) == len(ids) >= 5
    assert count is None or len(ids) == count
    assert whole["pageInfo"]["hasNextPage"] is False and whole["pageInfo"]["hasPreviousPage"] is False
    for size in (2, 3):
        assert await forward(client, document, size, **extra) == ids
        assert await backward(client, document, size, **extra) == ids
    last_two = await page(client, document, last=2, **extra)
    assert [e["node"]["id"] for e in last_two["edges"]] == ids[-2:]
    assert last_two["pageInfo"]["hasPreviousPage"] is True
    first_two = await page(client, document, first=2, **extra)
    assert first_two["pageInfo"]["hasNextPage"] is True
    before_third = await page(client, document, last=5, before=whole["edges"][2]["cursor"], **extra)
    assert [e["node"]["id"] for e in before_third["edges"]] == ids[:2]
    assert before_third["pageInfo"]["hasPreviousPage"] is False
    return ids


async def contacts(admin: Client, owner: Client, n: int) -> list[str]:
    made = []
    for i in range(n):
        last_name = None if i % 3 == 0 else f"L{i % 4}"  # ties and nulls in a nullable sort column
        created = await admin(CREATE_CONTACT, {"input": {"email": f"p{i}@example.com", "lastName": last_name,
                                                          "ownerId": str(owner.user_id)}})  # fmt: skip
        made.append(created["createContact"]["contact"]["id"])
    return made


@pytest.mark.parametrize(
    "sort",
    [None, {"property": "lastName", "direction": "ASC"}, {"property": "lastName", "direction": "DESC"}],
)
async def test_records_page_forward_and_backward_alike(app: Harness, sort: dict[str, str] | None) -> None:
    admin = await app.user(super_admin=True)
    made = await contacts(admin, admin, 7)
    ids = await both_ways(admin, CONTACTS, 7, sort=sort)
    if sort is None:
        assert ids == made[::-1]  # newest first


async def test_quotes_tasks_notifications_runs_and_deliveries_page_both_ways(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    rep = await app.user()
    flow = await admin(CREATE_WORKFLOW, {"i": {"objectType": "CONTACT", "trigger": {"event": "CREATED"},
        "actions": [{"type": "SET_PROPERTY", "property": "firstName", "value": "Run"}]}})  # fmt: skip
    assert flow["createWorkflow"]["userErrors"] == []
    await contacts(admin, rep, 5)  # five runs, five notifications for rep
    deal = await make_deal(admin)
    for n in range(5):
        made = await quotes.call(
            admin, quotes.CREATE, dealId=deal["id"], title=f"Q{n}", lineItems=quotes.LINES
        )
        assert made["userErrors"] == []
        task = {"type": "TASK", "title": f"T{n}", "assigneeId": str(rep.user_id)}
        assert (await admin(CREATE_TASK, {"i": task}))["createEngagement"]["userErrors"] == []
    await admin(CREATE_WEBHOOK)
    await app.pool.execute(
        "INSERT INTO webhook_deliveries (webhook_id, sequence, event_type, status)"
        " SELECT (SELECT id FROM webhooks), s, 'x.never', 'DELIVERED' FROM generate_series(1, 5) AS s"
    )
    assert len(await both_ways(admin, QUOTES, 5)) == 5
    assert len(await both_ways(rep, TASKS, 5)) == 5
    await both_ways(rep, NOTIFICATIONS, None)  # assignments of contacts and of tasks
    assert len(await both_ways(admin, RUNS, 5)) == 5
    assert len(await both_ways(admin, DELIVERIES, 5)) == 5


@pytest.mark.parametrize(
    ("given", "field"),
    [({"first": 1, "last": 1}, "last"), ({"after": "W10=", "before": "W10="}, "before"),
     ({"first": 1, "before": "W10="}, "first"), ({"last": 500}, "last")],
)  # fmt: skip
async def test_a_page_asked_for_both_ways_at_once_is_refused(
    app: Harness, given: dict[str, Any], field: str
) -> None:
    admin = await app.user(super_admin=True)
    for document in (CONTACTS, QUOTES, TASKS, NOTIFICATIONS):
        refused = await admin.raw(document, given)
        assert refused["errors"][0]["extensions"]["field"] == [field], document
        assert refused["errors"][0]["extensions"]["code"] == "INVALID", document


async def test_a_before_cursor_that_this_list_did_not_give_is_bad_cursor(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    refused = await admin.raw(CONTACTS, {"last": 2, "before": "not-a-cursor"})
    assert refused["errors"][0]["extensions"] == {"code": "BAD_CURSOR", "field": ["before"]}
