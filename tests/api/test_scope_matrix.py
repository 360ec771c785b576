"""The scope matrix (DESIGN 2): for each kind of viewer, every query, nested field and subscription
(live and replayed with `after`) shows exactly the deals and quotes that viewer may see now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import websockets

from db import events as event_store
from db import users as user_store
from domain.records import Scope
from tests.api import test_approvals as approvals
from tests.api import test_quotes as quotes
from tests.api.test_records import CREATE_DEAL, pipeline
from tests.harness import Client, Harness, WsClient

LINES = [{"name": "Seat", "quantity": 1, "unitPrice": "10.00"}]
UPDATE_DEAL = "mutation($i: UpdateDealInput!) { updateDeal(input: $i) { userErrors { code } } }"
DEAL = "query($id: ID!) { deal(id: $id) { id quotes { id } approval { id } } }"
QUOTE = "query($id: ID!) { quote(id: $id) { id deal { id quotes { id } } } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Deal { quotes { id } } ... on Quote { deal { id } } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Deal { quotes { id } } } }"
LISTS = """query($p: ID!) {
  deals(first: 200) { edges { node { id quotes { id } } } }
  board(pipelineId: $p) { columns { deals { edges { node { id } } } } }
  search(query: "Matrix") { ... on Deal { id } }
  quotes(first: 200) { edges { node { id deal { id } } } }
}"""
BOARD = "subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) { deal { id quotes { id } } } }"
QUOTES = "subscription($a: String) { quoteStatusChanged(after: $a) { quote { id deal { id } } } }"
APPROVALS = (
    "subscription($a: String) { dealApprovalChanged(after: $a) { deal { id } approval { deal { id } } } }"
)


@dataclass
class World:
    """Three deals (the viewer's, a teammate's, a stranger's), a quote on each, a second quote on
    the stranger's deal; for the approver kinds, the stranger's deal or quote awaits the viewer."""

    admin: Client
    viewer: Client
    pipeline_id: str
    before: str  # the event sequence before anything was made
    deals: dict[str, str]  # "own" | "team" | "other" -> id
    quotes: dict[str, str]  # "own" | "team" | "other" | "other2" -> id


async def deal(admin: Client, p: dict[str, Any], stage: str, name: str, owner: Client) -> str:
    made = await admin(
        CREATE_DEAL,
        {"input": {"name": name, "amount": "100", "pipelineId": p["id"], "stageId": stage,
                   "ownerId": str(owner.user_id)}},
    )  # fmt: skip
    assert made["createDeal"]["userErrors"] == [], made
    deal_id: str = made["createDeal"]["deal"]["id"]
    return deal_id


async def quote(admin: Client, deal_id: str, title: str) -> str:
    made = await quotes.call(admin, quotes.CREATE, dealId=deal_id, title=title, lineItems=LINES)
    assert made["userErrors"] == [], made
    quote_id: str = made["quote"]["id"]
    return quote_id


async def build(app: Harness, kind: str) -> World:
    admin = await app.user(super_admin=True)
    scope = {"ALL": Scope.ALL, "TEAM": Scope.TEAM}.get(kind, Scope.OWNED)
    viewer = await app.user(view_scope=scope, edit_scope=scope, approver=kind == "approver")
    mate, stranger = await app.user(), await app.user()
    await admin(
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
        {"i": {"name": "Matrix team", "primaryMemberIds": [str(viewer.user_id), str(mate.user_id)]}},
    )
    p = await pipeline(admin)
    stages = {s["label"]: s["id"] for s in p["stages"]}
    if kind == "approver":
        enabled = await admin(
            approvals.ENABLE,
            {"i": {"pipelineId": p["id"], "approverIds": [str(viewer.user_id)], "note": "n", "position": 2}},
        )
        assert enabled["enableDealApprovals"]["userErrors"] == []
        stages = {s["label"]: s["id"] for s in enabled["enableDealApprovals"]["pipeline"]["stages"]}
    if kind == "quote approver":
        on = await admin(quotes.SETTINGS, {"i": {"required": True, "approverId": str(viewer.user_id)}})
        assert on["setQuoteApprovalSettings"]["ok"]
    before = str(await event_store.stamp(app.pool))
    first = stages["Appointment scheduled"]
    deals = {
        "own": await deal(admin, p, first, "Matrix own", viewer),
        "team": await deal(admin, p, first, "Matrix team", mate),
        "other": await deal(admin, p, first, "Matrix other", stranger),
    }
    found = {k: await quote(admin, d, f"Q {k}") for k, d in deals.items()}
    found["other2"] = await quote(admin, deals["other"], "Q other2")
    if kind == "approver":
        assert (await approvals.move(admin, deals["other"], stages["Pending approval"]))["userErrors"] == []
    if kind == "quote approver":
        assert (await quotes.call(admin, quotes.PUBLISH, id=found["other"]))["userErrors"] == []
    for name, deal_id in deals.items():  # a later change of every deal, so `after` replays have history
        await admin(UPDATE_DEAL, {"i": {"id": deal_id, "name": f"Matrix {name} renamed"}})
    if kind == "deactivated":
        await admin(
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { userErrors { code } } }",
            {"i": {"id": str(viewer.user_id), "active": False}},
        )
    if kind == "revoked":
        async with app.pool.acquire() as conn:
            assert viewer.token is not None
            await user_store.revoke_token(conn, viewer.token)
    return World(admin, viewer, p["id"], before, deals, found)


# What each kind of viewer may see: deals by deal(id) and in lists; quotes by quote(id); the quotes
# listed under a deal it sees. "approver": the stranger's deal awaits the viewer's decision.
# "quote approver": the stranger's first quote awaits the viewer; the deal comes with it, not its
# other quote.
ALL_QUOTES = {"own", "team", "other", "other2"}
MATRIX: dict[str, tuple[set[str], set[str], dict[str, set[str]]]] = {
    "ALL": ({"own", "team", "other"}, ALL_QUOTES, {"own": {"own"}, "team": {"team"}, "other": {"other", "other2"}}),
    "TEAM": ({"own", "team"}, {"own", "team"}, {"own": {"own"}, "team": {"team"}}),
    "OWNED": ({"own"}, {"own"}, {"own": {"own"}}),
    "approver": ({"own", "other"}, {"own", "other", "other2"}, {"own": {"own"}, "other": {"other", "other2"}}),
    "quote approver": ({"own"}, {"own", "other"}, {"own": {"own"}, "other": {"other"}}),
}  # fmt: skip


def names(world: World, ids: object, table: dict[str, str]) -> set[str]:
    back = {v: k for k, v in table.items()}
    return {back[i] for i in ids if i in back}  # type: ignore[attr-defined]


async def drain(ws: WsClient, field: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while True:
        try:
            got.append((await ws.next(timeout=0.8))[field])
        except TimeoutError:
            return got


@pytest.mark.parametrize("kind", list(MATRIX))
async def test_every_read_shows_exactly_what_the_viewers_scope_allows(app: Harness, kind: str) -> None:
    w = await build(app, kind)
    deals_seen, quotes_seen, deal_quotes = MATRIX[kind]
    v = w.viewer
    shown = {k for k, d in w.deals.items() if (await v(DEAL, {"id": d}))["deal"] is not None}
    assert shown == deals_seen
    for k in shown:
        found = (await v(DEAL, {"id": w.deals[k]}))["deal"]
        assert names(w, [q["id"] for q in found["quotes"]], w.quotes) == deal_quotes[k], k
    assert {k for k, q in w.quotes.items() if (await v(QUOTE, {"id": q}))["quote"] is not None} == quotes_seen
    for k in quotes_seen:
        found = (await v(QUOTE, {"id": w.quotes[k]}))["quote"]
        deal_key = "other" if k.startswith("other") else k
        assert found["deal"]["id"] == w.deals[deal_key]
        assert names(w, [q["id"] for q in found["deal"]["quotes"]], w.quotes) == deal_quotes[deal_key], k
    by_node = {k: (await v(NODE, {"id": d}))["node"] for k, d in w.deals.items()}
    assert {k for k, n in by_node.items() if n is not None} == deals_seen
    for k in deals_seen:
        assert names(w, [q["id"] for q in by_node[k]["quotes"]], w.quotes) == deal_quotes[k], k
    quotes_by_node = {k: (await v(NODE, {"id": q}))["node"] for k, q in w.quotes.items()}
    assert {k for k, n in quotes_by_node.items() if n is not None} == quotes_seen
    keys = list(w.deals) + list(w.quotes)
    together = (await v(NODES, {"ids": [*w.deals.values(), *w.quotes.values()]}))["nodes"]
    assert [n["id"] if n else None for n in together] == [
        w.deals[k] if k in deals_seen else None for k in w.deals
    ] + [w.quotes[k] if k in quotes_seen else None for k in w.quotes], keys
    lists = await v(LISTS, {"p": w.pipeline_id})
    listed = [e["node"] for e in lists["deals"]["edges"]]
    on_board = [e["node"]["id"] for c in lists["board"]["columns"] for e in c["deals"]["edges"]]
    assert names(w, [d["id"] for d in listed], w.deals) == deals_seen
    assert names(w, on_board, w.deals) == deals_seen
    assert names(w, [h["id"] for h in lists["search"] if h], w.deals) == deals_seen
    assert names(w, [e["node"]["id"] for e in lists["quotes"]["edges"]], w.quotes) == quotes_seen
    for node in listed:
        key = names(w, [node["id"]], w.deals).pop()
        assert names(w, [q["id"] for q in node["quotes"]], w.quotes) == deal_quotes[key]

    async with app.ws(v) as ws:  # replayed with `after`, read now
        await ws.subscribe(BOARD, {"p": w.pipeline_id, "a": w.before})
        board = [e["deal"] for e in await drain(ws, "boardChanged") if e["deal"]]
        await ws.subscribe(QUOTES, {"a": w.before})
        quoted = [e["quote"] for e in await drain(ws, "quoteStatusChanged") if e["quote"]]
        await ws.subscribe(APPROVALS, {"a": w.before})
        approved = await drain(ws, "dealApprovalChanged")
    shown_approvals = {e["approval"]["deal"]["id"] for e in approved if e["approval"]}
    assert names(w, shown_approvals | {e["deal"]["id"] for e in approved if e["deal"]}, w.deals) == (
        {"other"} if kind == "approver" else set()
    )
    assert names(w, {d["id"] for d in board}, w.deals) <= deals_seen
    assert names(w, {d["id"] for d in board}, w.deals) == deals_seen & {"own", "team", "other"}
    for d in board:
        key = names(w, [d["id"]], w.deals).pop()
        assert names(w, [q["id"] for q in d["quotes"]], w.quotes) == deal_quotes[key]
    assert names(w, {q["id"] for q in quoted}, w.quotes) <= quotes_seen
    assert all(names(w, [q["deal"]["id"]], w.deals) <= deals_seen | {"other"} for q in quoted)

    # Live: from the head before the updates, so none can fall between subscribing and the server
    # listening (seen on a loaded machine: the OWNED viewer's socket then missed its own deal).
    head = str(await event_store.stamp(app.pool))
    async with app.ws(v) as ws:
        await ws.subscribe(BOARD, {"p": w.pipeline_id, "a": head})
        for deal_id in w.deals.values():
            await w.admin(UPDATE_DEAL, {"i": {"id": deal_id, "name": "Matrix live"}})
        live = [e["deal"]["id"] for e in await drain(ws, "boardChanged") if e["deal"]]
    assert names(w, live, w.deals) == deals_seen


@pytest.mark.parametrize("kind", ["deactivated", "revoked"])
async def test_a_deactivated_or_revoked_viewer_reads_nothing_at_all(app: Harness, kind: str) -> None:
    w = await build(app, kind)
    for document, variables in [(DEAL, {"id": w.deals["own"]}), (QUOTE, {"id": w.quotes["own"]}),
                                (NODE, {"id": w.deals["own"]}), (NODES, {"ids": [w.deals["own"]]}),
                                (LISTS, {"p": w.pipeline_id})]:  # fmt: skip
        body = await w.viewer.raw(document, variables)
        assert w.viewer.last_status == 401 and "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with pytest.raises(websockets.ConnectionClosed) as closed:  # refused at connection_init
        async with app.ws(w.viewer):
            pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
