"""Shared fan-out: one execution and one encoding per event and shape, never across viewers' scopes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
)
from strawberry.extensions import MaskErrors
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.execution import ExecutionResult as StrawberryResult

from db import events as event_store
from domain.records import Scope
from schema import build_schema, fanout
from schema.fanout import STATS, FanoutStats, FastMaskErrors, SharedEventExecutionContext
from tests.api.test_records import CREATE_CONTACT, MOVE_DEAL, make_deal, pipeline
from tests.harness import Harness, WsClient

BOARD = """
subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) {
  sequence type fromStageId deal { id name amount stage { label } owner { email } } } }
"""
FLAGGED = """
subscription($p: ID!, $a: String, $full: Boolean!) { boardChanged(pipelineId: $p, after: $a) {
  sequence type deal @include(if: $full) { name } } }
"""
NAMES = "subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) { type deal { name } } }"
CONTACTS = """
subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) {
  sequence type deal { id contacts { email } } } }
"""


def since(before: FanoutStats) -> FanoutStats:
    now, then = dataclasses.asdict(STATS), dataclasses.asdict(before)
    return FanoutStats(**{k: now[k] - then[k] for k in now})


async def frames(ws: WsClient, count: int) -> list[str]:
    """The next `count` raw `next` frames, exactly as the server sent them."""
    got: list[str] = []
    while len(got) < count:
        raw = await asyncio.wait_for(ws.socket.recv(), 5)
        if json.loads(raw)["type"] == "ping":
            await ws.send({"type": "pong"})
            continue
        got.append(raw)
    return got


def data(raw: str) -> dict[str, Any]:
    message = json.loads(raw)
    assert message["type"] == "next", raw
    payload: dict[str, Any] = message["payload"]["data"]["boardChanged"]
    return payload


async def test_all_scope_subscribers_share_one_execution_and_one_encoding_per_event(
    app: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await app.user(super_admin=True)
    viewers = [await app.user() for _ in range(4)]  # different users, all with view scope ALL
    p = await pipeline(admin)
    variables = {"p": p["id"], "a": str(await event_store.stamp(app.pool))}
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(app.ws(v)) for v in viewers]
        for ws in sockets:
            await ws.subscribe(BOARD, variables)
        before = dataclasses.replace(STATS)
        deal = await make_deal(admin)
        await admin(MOVE_DEAL, {"input": {"dealId": deal["id"], "stageId": p["stages"][2]["id"]}})
        got = [await frames(ws, 2) for ws in sockets]
        assert since(before) == FanoutStats(executions=2, reused=6, frames_encoded=2, frames_reused=6)
        await admin("{ viewer { id } }")  # queries and mutations never touch the shared path
        assert since(before).executions == 2
    assert all(g == got[0] for g in got)  # the same bytes for every subscriber (all use operation id 1)
    assert [data(raw)["type"] for raw in got[0]] == ["deal.created", "deal.moved"]
    assert data(got[0][1])["deal"]["stage"]["label"] == p["stages"][2]["label"]
    for raw in got[0]:  # a well-formed graphql-transport-ws `next`, encoded as strawberry encodes it
        message = json.loads(raw)
        assert list(message) == ["id", "type", "payload"] and list(message["payload"]) == ["data"]
        assert raw == json.dumps(message, separators=(",", ":"))

    # Strawberry's own path (sharing off), replaying the same events, sends the very same frames.
    monkeypatch.setattr(
        SharedEventExecutionContext,
        "build_per_event_executor",
        StrawberryGraphQLCoreExecutionContext.build_per_event_executor,
    )
    before = dataclasses.replace(STATS)
    async with app.ws(viewers[0]) as stock:
        await stock.subscribe(BOARD, variables)
        assert await frames(stock, 2) == got[0]
    assert since(before) == FanoutStats()


async def test_different_selections_or_variables_get_their_own_payloads(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    p = await pipeline(admin)
    after = str(await event_store.stamp(app.pool))
    wanted = [(FLAGGED, {"full": True}), (FLAGGED, {"full": True}), (FLAGGED, {"full": False}), (NAMES, {})]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(app.ws(await app.user())) for _ in wanted]
        for ws, (query, extra) in zip(sockets, wanted, strict=True):
            await ws.subscribe(query, {"p": p["id"], "a": after, **extra})
        before = dataclasses.replace(STATS)
        await make_deal(admin, name="Shaped")
        full, again, bare, names = [data((await frames(ws, 1))[0]) for ws in sockets]
        assert (since(before).executions, since(before).reused) == (3, 1)
    assert full == again and full["deal"] == {"name": "Shaped"} and full["type"] == "deal.created"
    assert bare == {"sequence": full["sequence"], "type": "deal.created"}
    assert names == {"type": "deal.created", "deal": {"name": "Shaped"}}


async def test_a_scoped_viewer_gets_its_own_execution_and_sees_only_its_scope(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    everyone = [await app.user(), await app.user()]
    mine = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    other = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    contact = await admin(
        CREATE_CONTACT, {"input": {"email": "hidden@example.com", "ownerId": str(admin.user_id)}}
    )
    cid = contact["createContact"]["contact"]["id"]
    p = await pipeline(admin)
    variables = {"p": p["id"], "a": str(await event_store.stamp(app.pool))}
    async with contextlib.AsyncExitStack() as stack:
        all_ws = [await stack.enter_async_context(app.ws(c)) for c in everyone]
        mine_ws = [await stack.enter_async_context(app.ws(mine)) for _ in range(2)]  # one user, two tabs
        other_ws = await stack.enter_async_context(app.ws(other))
        for ws in [*all_ws, *mine_ws, other_ws]:
            await ws.subscribe(CONTACTS, variables)
        before = dataclasses.replace(STATS)
        owned = await make_deal(admin, ownerId=str(mine.user_id), contactIds=[cid])
        await make_deal(admin, ownerId=str(admin.user_id))
        seen_by_all = [[data(raw) for raw in await frames(ws, 2)] for ws in all_ws]
        seen_by_mine = [[data(raw) for raw in await frames(ws, 1)] for ws in mine_ws]
        assert await other_ws.nothing_within(0.3)
        # the first deal: one execution for ALL, one for `mine`; the second: ALL only
        assert (since(before).executions, since(before).reused) == (3, 3)
    assert seen_by_all[0] == seen_by_all[1]
    assert seen_by_all[0][0]["deal"] == {"id": owned["id"], "contacts": [{"email": "hidden@example.com"}]}
    assert seen_by_mine[0] == seen_by_mine[1]
    assert seen_by_mine[0][0]["deal"] == {"id": owned["id"], "contacts": []}  # not the ALL viewers' result


async def test_subscribers_resuming_from_different_points_still_share(app: Harness) -> None:
    """`after` (like `pipelineId`) only chooses the events: it is not part of the sharing key."""
    admin = await app.user(super_admin=True)
    p = await pipeline(admin)
    earlier = str(await event_store.stamp(app.pool))
    await admin(CREATE_CONTACT, {"input": {"email": "elsewhere@example.com"}})  # an event off this board
    later = str(await event_store.stamp(app.pool))  # the head with it, whether or not the relay stamped yet
    assert int(later) > int(earlier)
    async with app.ws(await app.user()) as first, app.ws(await app.user()) as second:
        await first.subscribe(BOARD, {"p": p["id"], "a": earlier})
        await second.subscribe(BOARD, {"p": p["id"], "a": later})
        before = dataclasses.replace(STATS)
        await make_deal(admin)
        assert await frames(first, 1) == await frames(second, 1)
        assert (since(before).executions, since(before).reused) == (1, 1)


def test_nothing_reachable_from_an_event_is_permission_gated() -> None:
    """Sharing among ALL-scope viewers assumes results never depend on who asks, beyond scope:
    a field with permission classes under Event would break that (see schema/fanout.py)."""
    schema = build_schema(dev=False)._schema
    todo: list[GraphQLNamedType] = [schema.type_map["Event"]]
    seen: set[str] = set()
    gated = []
    while todo:
        named = todo.pop()
        if named.name in seen or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            continue
        seen.add(named.name)
        for name, graphql_field in named.fields.items():
            definition = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if getattr(definition, "permission_classes", None):
                gated.append(f"{named.name}.{name}")
            todo.append(get_named_type(graphql_field.type))
    assert {"Deal", "DealApproval", "Quote", "User", "Notification"} <= seen
    assert gated == []


def test_results_with_errors_are_never_shared() -> None:
    key = ("test", object())
    failed = ExecutionResult({"x": None}, [GraphQLError("boom")])
    entry = fanout._Shared(event=object(), schema=object(), operation=object())  # type: ignore[arg-type]
    fanout._results.put(key, entry)
    assert fanout._keep(key, entry, failed) is None
    assert fanout._results.get(key) is None
    assert fanout.shared_payload_json(failed.data, json.dumps) is None
    clean = ExecutionResult({"x": 1}, None)
    assert fanout._keep(key, entry, clean) is clean
    assert fanout.shared_payload_json(clean.data, json.dumps) == '{"data": {"x": 1}}'
    fanout._results.discard(key, entry)


def test_fast_mask_errors_masks_exactly_as_strawberry_does() -> None:
    def expected(error: GraphQLError) -> bool:
        return error.original_error is None

    results = []
    for extension in (
        MaskErrors(should_mask_error=lambda e: not expected(e)),
        FastMaskErrors(should_mask_error=lambda e: not expected(e)),
    ):
        result = StrawberryResult(
            data=None, errors=[GraphQLError("shown"), GraphQLError("secret", original_error=KeyError())]
        )
        extension._process_result(result)
        extension._process_result(StrawberryResult(data={"x": 1}, errors=None))
        results.append([e.message for e in result.errors or ()])
    assert results == [["shown", "Unexpected error."], ["shown", "Unexpected error."]]
