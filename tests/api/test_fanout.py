"""Shared fan-out: one execution and one encoding per event and shape, never across viewers' scopes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import random
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import httpx
import pytest
from broadcaster import Broadcast
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.extensions import MaskErrors
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.execution import ExecutionResult as StrawberryResult

from db import events as event_store
from dealflow.settings import Settings
from dealflow.ws_protocol import HELD
from domain.events import NewEvent, StoredEvent
from domain.records import Scope, User, Viewer
from resolvers.context import Context
from resolvers.notifications import notify
from schema import build_schema, fanout
from schema.fanout import STATS, FanoutStats, FastMaskErrors, SharedEventExecutionContext
from subscriptions import bus as bus_module
from subscriptions import streams
from subscriptions.bus import ADMIT_BACKLOG, AXES, EventBus, Interest, Listener
from subscriptions.sessions import Session
from tests.api.test_records import CREATE_CONTACT, MOVE_DEAL, make_deal, pipeline
from tests.harness import Harness, WsClient, db_id, live_server

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


def _as(scope: Scope, user_id: int = 1, teammates: frozenset[int] = frozenset()) -> Context:
    user = User(
        user_id, f"u{user_id}@example.com", "U", True, False, False, scope, Scope.OWNED, datetime.now(UTC)
    )
    return Context(services=cast(Any, None), viewer=Viewer(user=user, teammate_ids=teammates))


@pytest.mark.parametrize(
    ("first", "then", "shared"),
    [
        (_as(Scope.ALL, 1), _as(Scope.ALL, 2), True),  # ALL sees everything, whoever it is
        (_as(Scope.OWNED, 1), _as(Scope.OWNED, 1), True),
        (_as(Scope.TEAM, 1, frozenset({2})), _as(Scope.TEAM, 1, frozenset({2})), True),
        (_as(Scope.OWNED, 1), _as(Scope.OWNED, 2), False),
        (_as(Scope.TEAM, 1, frozenset({2})), _as(Scope.OWNED, 1), False),  # narrowed: sees less now
        (_as(Scope.TEAM, 1, frozenset({2})), _as(Scope.TEAM, 1, frozenset({3})), False),  # another team
        (_as(Scope.ALL, 1), _as(Scope.TEAM, 1, frozenset({2})), False),
    ],
)
def test_a_shared_result_is_reused_only_for_a_viewer_who_sees_the_same(
    first: Context, then: Context, shared: bool
) -> None:
    """The sharing key of a per-event result holds everything visibility reads of the viewer
    (domain.visibility: id, view scope, teammates), so a result rendered before a session's viewer
    was re-read (its scope narrowed, its team changed) is never reused after (DESIGN 2)."""
    assert (fanout.viewer_key(first) == fanout.viewer_key(then)) is shared


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


# ---------------------------------------------------------------------------------------------
# The fast paths against the general ones: indexed wake-up, direct delivery through a sink

WATCHED = """
subscription($a: String) { recordChanged(objectType: CONTACT, after: $a) { sequence type record } }
"""
ONE_CONTACT = """
subscription($id: ID, $a: String) { recordChanged(objectType: CONTACT, id: $id, after: $a) { sequence type } }
"""
MINE = (
    "subscription($a: String) { notificationReceived(after: $a) { sequence type notification { message } } }"
)


async def test_direct_delivery_sends_each_subscriber_what_the_general_path_sends(
    app: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live, with the index and direct delivery, then replayed through strawberry with neither: the
    same frames, byte for byte, for every subscriber (scopes ALL and OWNED, several subscriptions)."""
    admin = await app.user(super_admin=True)
    everyone = [await app.user(), await app.user()]
    owner = await app.user(view_scope=Scope.OWNED, edit_scope=Scope.OWNED)
    p = await pipeline(admin)
    start = str(await event_store.stamp(app.pool))
    watched = {"email": "watched@example.com", "ownerId": str(owner.user_id)}
    contact = (await admin(CREATE_CONTACT, {"input": watched}))["createContact"]
    wanted = [
        *[(c, BOARD, {"p": p["id"]}) for c in everyone],
        (everyone[0], NAMES, {"p": p["id"]}),
        (owner, CONTACTS, {"p": p["id"]}),
        (owner, BOARD, {"p": p["id"]}),
        (everyone[1], WATCHED, {}),
        (owner, ONE_CONTACT, {"id": contact["contact"]["id"]}),
        (everyone[0], MINE, {}),
    ]
    after = str(await event_store.stamp(app.pool))
    bus = app.server.app.state.services.bus

    async def run(live: bool) -> list[list[str]]:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(app.ws(client)) for client, _, _ in wanted]
            for ws, (_, query, variables) in zip(sockets, wanted, strict=True):
                await ws.subscribe(query, {**variables, "a": after})
            if live:
                await _parked(bus, len(sockets))
                assert len(bus.candidates(_deal_event(db_id(p["id"])))) == 5  # the board's subscribers only
                await _changes(app, admin, owner, everyone[0], p, contact["contact"]["id"])
            return list(await asyncio.gather(*(_all_frames(ws) for ws in sockets)))  # quiet together

    before = dataclasses.replace(fanout.DIRECT)
    live = await run(live=True)
    assert fanout.DIRECT.frames - before.frames >= 20  # most went straight to the sockets
    monkeypatch.setattr(bus, "indexed", False)
    monkeypatch.setattr("schema.subscription.direct_sink", lambda: None)
    before = dataclasses.replace(fanout.DIRECT)
    replayed = await run(live=False)
    assert before == fanout.DIRECT  # the general path only
    assert [len(got) for got in live[:5]] == [5, 5, 5, 3, 3]  # the board: ALL sees 5 changes, OWNED 3
    assert [len(got) for got in live[5:]] == [3, 2, 1]
    assert replayed == live
    assert start < after


async def _changes(
    app: Harness, admin: Any, owner: Any, reader: Any, p: dict[str, Any], contact: str
) -> None:
    from tests.api.test_events import send
    from tests.api.test_records import UPDATE_CONTACT

    mine = await make_deal(admin, ownerId=str(owner.user_id))
    await make_deal(admin, ownerId=str(admin.user_id))
    await admin(MOVE_DEAL, {"input": {"dealId": mine["id"], "stageId": p["stages"][1]["id"]}})
    await admin(UPDATE_CONTACT, {"input": {"id": contact, "firstName": "Once"}})
    await send(app.pool, reader.user_id, "for you", app)
    await admin(CREATE_CONTACT, {"input": {"email": "another@example.com"}})
    await admin(MOVE_DEAL, {"input": {"dealId": mine["id"], "stageId": p["stages"][2]["id"]}})
    await admin(UPDATE_CONTACT, {"input": {"id": contact, "firstName": "Twice"}})
    await make_deal(admin, ownerId=str(admin.user_id))


async def _all_frames(ws: WsClient, quiet: float = 0.7) -> list[str]:
    """Every frame until the socket has been quiet for `quiet` seconds."""
    got: list[str] = []
    while True:
        try:
            got += await asyncio.wait_for(frames(ws, 1), quiet)
        except TimeoutError:
            return got


async def test_a_burst_of_events_reaches_a_socket_in_one_write_not_one_per_frame(app: Harness) -> None:
    """The bus holds each socket while it fans out a burst (dealflow.ws_protocol): ten events
    committed together, ten frames in order, fewer writes than frames (a write of one frame costs
    the machine about as much as the rest of a delivery)."""
    user = await app.user()
    after = str(await event_store.stamp(app.pool))
    services = app.server.app.state.services
    async with app.ws(user) as ws:
        await ws.subscribe(MINE, {"a": after})
        await _parked(services.bus, 1)
        before = dataclasses.replace(HELD)
        async with app.pool.acquire() as conn, conn.transaction():
            burst: list[NewEvent] = []
            for i in range(10):
                burst += await notify(conn, [user.user_id], kind="TEST", message=f"m{i}")
            await event_store.append(conn, burst)
        services.relay.wake()
        got = [(await ws.next())["notificationReceived"]["notification"]["message"] for _ in range(10)]
        assert await ws.nothing_within(0.2)
    assert got == [f"m{i}" for i in range(10)]
    assert HELD.frames - before.frames == 10
    assert HELD.writes - before.writes < 10


DEAL_NOTICES = (
    "subscription($a: String) { notificationReceived(after: $a) { notification { message deal { name } } } }"
)


async def test_live_delivery_takes_its_own_connections_not_those_requests_wait_for(
    db_dsn: str, pool: asyncpg.Pool
) -> None:
    """With every connection of the main pool taken (requests queueing for them), an event is still
    stamped and read by the relay, executed (its deal read) and delivered: through the live pool."""
    settings = Settings(env="production", pool_max_size=2)
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        app = Harness(pool=pool, server=server, http=http)
        admin = await app.user(super_admin=True)
        deal = await make_deal(admin)
        after = str(await event_store.stamp(pool))
        services = server.app.state.services
        async with app.ws(admin) as ws:
            await ws.subscribe(DEAL_NOTICES, {"a": after})
            await _parked(services.bus, 1)
            async with contextlib.AsyncExitStack() as taken:
                with contextlib.suppress(TimeoutError):  # every connection the main pool will give
                    while True:
                        await taken.enter_async_context(services.pool.acquire(timeout=0.2))
                async with pool.acquire() as conn, conn.transaction():
                    notices = await notify(
                        conn, [admin.user_id], kind="TEST", message="hi", deal_id=db_id(deal["id"])
                    )
                    await event_store.append(conn, notices)
                await event_store.stamp(pool)  # its NOTIFY wakes the server's relay
                got = await ws.next(timeout=5)
    assert got["notificationReceived"]["notification"] == {"message": "hi", "deal": {"name": "Deal"}}


async def test_a_live_subscription_starts_after_every_event_committed_before_it(app: Harness) -> None:
    """ "From now" is after what committed before the subscription, numbered by the relay or not yet:
    an event still waiting for its sequence when the subscription starts is not live news."""
    user = await app.user()
    bus = app.server.app.state.services.bus
    async with app.pool.acquire() as conn, conn.transaction():  # committed, not stamped: no relay woken
        await event_store.append(conn, await notify(conn, [user.user_id], kind="TEST", message="before"))
    async with app.ws(user) as ws:
        await ws.subscribe(MINE, {})
        await _parked(bus, 1)
        async with app.pool.acquire() as conn, conn.transaction():
            await event_store.append(conn, await notify(conn, [user.user_id], kind="TEST", message="after"))
        await event_store.stamp(app.pool)
        got = await ws.next()
        assert got["notificationReceived"]["notification"]["message"] == "after"
        assert await ws.nothing_within(0.2)


async def _parked(bus: EventBus, count: int) -> None:
    async with asyncio.timeout(5):
        while sum(listener.direct for listener in bus.listeners) < count:  # noqa: ASYNC110 (polls a count)
            await asyncio.sleep(0.01)


def _deal_event(pipeline_id: int) -> StoredEvent:
    return StoredEvent(0, "deal.moved", {}, None, frozenset(), pipeline_id, None, None, None)


FAMILIES = ("deal.", "approval.", "quote.", "contact.", "company.", "notification.", "session.", "import.")


def _random_event(rng: random.Random, sequence: int) -> StoredEvent:
    family = rng.choice(FAMILIES)
    record = rng.choice([None, {"id": rng.choice([100, 101])}, {"type": "CONTACT"}])
    return StoredEvent(
        sequence=sequence,
        type=family + rng.choice(["created", "moved", "updated"]),
        payload={} if record is None else {"record": record},
        owner_id=rng.choice([None, 1, 2]),
        audience=frozenset(rng.sample([1, 2, 3], rng.randrange(3))),
        pipeline_id=rng.choice([None, 1, 2, 3]),
        deal_id=rng.choice([None, 10, 11, 12]),
        quote_id=None,
        import_id=None,
    )


def _interests() -> list[Interest | None]:
    found: list[Interest | None] = [None]
    for family in FAMILIES:
        found.append(Interest(family))
        found += [Interest(family, "pipeline_id", v) for v in (1, 2, 3)]
        found += [Interest(family, "deal_id", v) for v in (10, 12)]
        found += [Interest(family, "record", v) for v in (100, 101)]
        found += [Interest(family, "audience", v) for v in (1, 3)]
    return found


def _match_of(interest: Interest | None, scope: int) -> Callable[[StoredEvent], bool]:
    """What a subscription's match does: its family and value, and a scope of its own."""

    def match(event: StoredEvent) -> bool:
        in_scope = scope == 0 or event.owner_id == scope or scope in event.audience
        if interest is None:
            return in_scope
        if not event.type.startswith(interest.family):
            return False
        if interest.axis is not None and interest.value not in AXES[interest.axis](event):
            return False
        return in_scope

    return match


async def test_indexed_wake_up_offers_each_listener_every_event_its_match_admits() -> None:
    """Two buses fed the same events, one offering each to the listeners its index names, one to
    every listener: each listener's match admits the very same events from both."""
    rng = random.Random(20261123)
    indexed, everyone = EventBus(Broadcast("memory://")), EventBus(Broadcast("memory://"))
    everyone.indexed = False
    watching = [(interest, _match_of(interest, scope)) for interest in _interests() for scope in (0, 1, 3)]
    async with contextlib.AsyncExitStack() as stack:
        pairs = [
            (
                await stack.enter_async_context(indexed.listen(interest, match=match)),
                await stack.enter_async_context(everyone.listen(interest, match=match)),
                match,
            )
            for interest, match in watching
        ]
        events = [_random_event(rng, n) for n in range(1, 401)]
        for bus in (indexed, everyone):
            await bus.receive(json.dumps({"sequence": 400, "batch": [e.to_wire() for e in events]}))
        offered = {"indexed": 0, "everyone": 0}
        for fast, general, match in pairs:
            got = [_drain(fast), _drain(general)]
            offered["indexed"] += len(got[0])
            offered["everyone"] += len(got[1])
            assert [e for e in got[0] if match(e)] == [e for e in got[1] if match(e)]
            assert [e.sequence for e in got[0]] == sorted({e.sequence for e in got[0]})  # in order, once
    assert offered["everyone"] == 400 * len(pairs)
    assert offered["indexed"] < offered["everyone"] / 5  # most listeners never hear most events
    assert indexed._index == {} and indexed._everything == set()  # left clean by the listeners


def _drain(listener: Listener) -> list[StoredEvent]:
    got = []
    while not listener.queue.empty():
        got.append(listener.queue.get_nowait())
    return got


class _Sink:
    """A sink for the bus's own tests: records what it was given; its answers are set per test."""

    def __init__(self) -> None:
        self.written: list[int] = []
        self.render_none: set[int] = set()
        self.refuse: set[int] = set()
        self.block: dict[int, asyncio.Future[None]] = {}

    def group(self) -> str:
        return "everyone"

    async def render(self, event: StoredEvent) -> int | None:
        return None if event.sequence in self.render_none else event.sequence

    def write(self, rendered: object) -> bool | Awaitable[None]:
        assert isinstance(rendered, int)
        if rendered in self.refuse:
            return False
        self.written.append(rendered)
        return self.block.get(rendered, True)

    def holder(self) -> None:
        return None


async def _append(pool: asyncpg.Pool, n: int) -> list[StoredEvent]:
    async with pool.acquire() as conn, conn.transaction():
        await event_store.append(
            conn, [NewEvent(type="deal.moved", payload={}, pipeline_id=7) for _ in range(n)]
        )
    last = await event_store.stamp(pool)  # as a relay does after a commit
    return await event_store.read_after(pool, last - n, limit=n)


async def test_a_parked_stream_takes_back_each_event_its_sink_cannot_deliver_in_order(
    pool: asyncpg.Pool,
) -> None:
    """Through the sink while it can; to the stream's consumer when the render or the write fails,
    when the socket is full (the consumer waits for that send first), when the session is being
    re-read, and when the bus skipped sequences (the consumer reads them from the table). Every
    event once, in order, the sink's and the consumer's together."""
    bus = EventBus(Broadcast("memory://"))  # without a pool: holes reach the listeners
    await bus.start()
    sink = _Sink()
    session = Session(cast(Any, None), cast(Any, None), lambda _: None)
    consumed: list[tuple[int, bool]] = []  # (sequence, whether the blocked send had finished)
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def consume() -> None:
        stream = streams.events(
            pool, bus, await event_store.head(pool), lambda e: e.pipeline_id == 7, session,
            interest=Interest("deal.", "pipeline_id", 7), sink=sink,
        )  # fmt: skip
        async for event in stream:
            consumed.append((event.sequence, blocked.done()))

    def handled() -> list[int]:
        return sink.written + [sequence for sequence, _ in consumed]

    async def parked_after(sequence: int) -> None:
        """Until the stream has everything up to `sequence` and is parked again."""

        def there() -> bool:
            parked = bool(bus.listeners) and all(x.direct for x in bus.listeners)
            return parked and max(handled(), default=0) >= sequence

        async with asyncio.timeout(5):
            while not there():  # noqa: ASYNC110 (polls the bus)
                await asyncio.sleep(0.01)

    task = asyncio.create_task(consume())
    try:
        bus.fanned_out = await event_store.head(pool)  # as start() does with a pool
        await parked_after(0)
        events = await _append(pool, 12)
        seq = [e.sequence for e in events]
        sink.render_none.add(seq[1])
        sink.refuse.add(seq[2])
        for event in events[:4]:  # 0 through the sink, 1 not rendered, 2 refused, 3 through the sink again
            await bus.publish([event])
            await parked_after(event.sequence)
        sink.block[seq[4]] = blocked
        await bus.publish(events[4:6])  # 4 written but waiting: 5 goes to the consumer, after 4 is sent
        await asyncio.sleep(0.2)
        assert seq[5] not in handled()
        blocked.set_result(None)
        await parked_after(seq[5])
        await bus.publish(events[6:7])
        await parked_after(seq[6])
        session.settled.clear()  # a re-check under way: the consumer waits it out
        await bus.publish(events[7:8])
        await asyncio.sleep(0.2)
        assert seq[7] not in handled()
        session.settled.set()
        await parked_after(seq[7])
        await bus.publish(events[8:9])
        await parked_after(seq[8])
        await bus.publish(events[11:12])  # 9 and 10 never published: read from the table
        await parked_after(seq[11])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bus.stop()
    assert sink.written == [seq[0], seq[3], seq[4], seq[6], seq[8]]
    assert not bus.listeners
    assert consumed == [(seq[1], False), (seq[2], False), (seq[5], True), (seq[7], True), (seq[9], True),
                        (seq[10], True), (seq[11], True)]  # fmt: skip
    assert sorted(sink.written + [s for s, _ in consumed]) == seq


class _HeldRenders(_Sink):
    """A sink whose renders wait until `release` is set; counts how many wait at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0
        self.most_at_once = 0

    async def render(self, event: StoredEvent) -> int | None:
        self.waiting += 1
        self.most_at_once = max(self.most_at_once, self.waiting)
        try:
            await self.release.wait()
        finally:
            self.waiting -= 1
        return event.sequence


@contextlib.asynccontextmanager
async def _parked_listener(bus: EventBus, sink: _Sink, after: int) -> AsyncIterator[Listener]:
    """A listener of pipeline 7's deal events, parked after `after` as a stream with an empty queue
    parks: the bus delivers its events through `sink`."""
    interest = Interest("deal.", "pipeline_id", 7)
    async with bus.listen(interest, match=lambda e: e.pipeline_id == 7, sink=sink) as listener:
        listener.through = after
        listener.direct = True
        yield listener


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (polls the bus)
            await asyncio.sleep(0.01)


async def test_a_request_waits_to_start_while_fan_out_is_behind(app: Harness) -> None:
    """Fan-out before new work: while more than ADMIT_BACKLOG events wait for direct delivery, a
    request starts only once they are handed out, so subscribers see a change the moment it is made
    even when requests keep every core busy (bench/load.py)."""
    user = await app.user()
    bus = app.server.app.state.services.bus
    sink = _HeldRenders()
    async with _parked_listener(bus, sink, await event_store.head(app.pool)):
        events = await _append(app.pool, ADMIT_BACKLOG + 2)  # its stamp's NOTIFY wakes the relay
        await _until(lambda: sink.waiting > 0 and bus.fanned_out >= events[-1].sequence)
        request = asyncio.create_task(user("{ viewer { email } }"))
        await asyncio.sleep(0.3)
        assert not request.done()
        sink.release.set()
        answer = await asyncio.wait_for(request, 5)
        await _until(lambda: len(sink.written) == len(events))
    assert answer["viewer"]["email"]
    assert sink.written == [e.sequence for e in events]


async def test_a_request_waits_for_fan_out_at_most_admit_wait_seconds(
    app: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fan-out that does not move (a socket stuck, a bug) slows requests down, never stops them."""
    monkeypatch.setattr(bus_module, "ADMIT_WAIT_SECONDS", 0.3)
    user = await app.user()
    bus = app.server.app.state.services.bus
    sink = _HeldRenders()
    async with _parked_listener(bus, sink, await event_store.head(app.pool)):
        events = await _append(app.pool, ADMIT_BACKLOG + 2)
        await _until(lambda: sink.waiting > 0 and bus.fanned_out >= events[-1].sequence)
        started = asyncio.get_running_loop().time()
        answer = await asyncio.wait_for(user("{ viewer { email } }"), 5)
        waited = asyncio.get_running_loop().time() - started
        assert not sink.written  # still behind
        sink.release.set()
        await _until(lambda: len(sink.written) == len(events))
    assert answer["viewer"]["email"]
    assert waited >= 0.3


async def test_a_backlog_is_rendered_at_once_and_written_in_order() -> None:
    """Events waiting for direct delivery are rendered together (render-ahead), not one after
    another, and still written once each, in order."""
    bus = EventBus(Broadcast("memory://"))
    sink = _HeldRenders()
    events = [_deal_event_numbered(n) for n in range(1, 11)]
    async with _parked_listener(bus, sink, 0):
        await bus.receive(json.dumps({"sequence": 10, "batch": [e.to_wire() for e in events]}))
        await _until(lambda: sink.waiting == len(events))
        sink.release.set()
        await _until(lambda: len(sink.written) == len(events))
    assert sink.most_at_once == len(events)
    assert sink.written == list(range(1, 11))


async def test_a_backlog_with_one_render_to_make_leaves_nothing_unawaited() -> None:
    """Two events, one the listener takes: render-ahead has one render to make, leaves it to
    `_deliver`, and starts nothing it does not finish."""
    bus = EventBus(Broadcast("memory://"))
    sink = _Sink()
    events = [_deal_event_numbered(1), _deal_event_numbered(2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        interest = Interest("deal.", "pipeline_id", 7)
        async with bus.listen(interest, match=lambda e: e.sequence == 1, sink=sink) as listener:
            listener.direct = True
            await bus.receive(json.dumps({"sequence": 2, "batch": [e.to_wire() for e in events]}))
            await _until(lambda: not bus._direct and bus._caught_up.is_set() and sink.written == [1])
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


async def test_a_listener_whose_match_fails_never_stalls_a_backlog() -> None:
    """Render-ahead is only a warm-up: an event whose delivery fails (a subscription's match raises)
    goes to the consumers as `_deliver` hands it over, and the backlog drains; every other listener
    still has every event once, in order, from its sink or its queue."""
    bus = EventBus(Broadcast("memory://"))
    good, bad = _Sink(), _Sink()

    def broken(event: StoredEvent) -> bool:
        if event.sequence == 3:
            raise RuntimeError("a match that fails")
        return True

    events = [_deal_event_numbered(n) for n in range(1, 6)]
    async with (
        _parked_listener(bus, good, 0) as fine,
        bus.listen(Interest("deal.", "pipeline_id", 7), match=broken, sink=bad) as failing,
    ):
        failing.direct = True
        await bus.receive(json.dumps({"sequence": 5, "batch": [e.to_wire() for e in events]}))
        await _until(lambda: not bus._direct and bus._caught_up.is_set())
        assert good.written + [e.sequence for e in _drain(fine)] == [1, 2, 3, 4, 5]
        assert not failing.direct
        assert bad.written + [e.sequence for e in _drain(failing)] == [1, 2, 3, 4, 5]


def _deal_event_numbered(sequence: int) -> StoredEvent:
    return dataclasses.replace(_deal_event(7), sequence=sequence)


async def test_send_now_finishes_at_once_or_in_a_task_from_where_the_send_stopped() -> None:
    steps: list[str] = []
    room: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(wait: asyncio.Future[None] | None, fail: bool = False) -> None:
        steps.append("framed")
        try:
            if fail:
                raise WebSocketDisconnect(1006)
            if wait is not None:
                await wait
            steps.append("written")
        finally:
            steps.append("ended")

    assert fanout.send_now(send(None)) is True
    assert fanout.send_now(send(None, fail=True)) is False
    assert steps == ["framed", "written", "ended", "framed", "ended"]
    steps.clear()
    pending = fanout.send_now(send(room))
    assert isinstance(pending, asyncio.Future)
    await asyncio.sleep(0)
    assert steps == ["framed"]
    assert not pending.done()  # nothing ran twice, nothing ran ahead
    room.set_result(None)
    await pending
    assert steps == ["framed", "written", "ended"]
    for started in (False, True):  # cancelled before its task ran, and while it waits
        steps.clear()
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        cancelled = fanout.send_now(send(never))
        assert isinstance(cancelled, asyncio.Future)
        if started:
            await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert steps == ["framed", "ended"]  # the send ended where it waited, and wrote nothing
