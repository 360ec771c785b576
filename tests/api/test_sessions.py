"""WebSocket sessions bound to their token: revocation, deactivation, expiry and scope changes reach
open sockets within a second, with no database read per event; message and subscription limits."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from domain.records import Scope
from tests.api.test_records import make_deal, pipeline
from tests.harness import Client, Harness, WsClient, db_id

BOARD = "subscription($p: ID!) { boardChanged(pipelineId: $p) { type deal { id name } } }"
CREATE = "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id } } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } userErrors { code } } }"
UPDATE_USER = """
mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { id } userErrors { code } } }"""


async def closed_code(ws: WsClient, within: float) -> int:
    """The close code the server sends within `within` seconds (answering pings meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    with pytest.raises(websockets.ConnectionClosed) as closed:  # noqa: PT012 (the loop is the wait)
        while True:
            message = json.loads(await asyncio.wait_for(ws.socket.recv(), max(deadline - loop.time(), 0.01)))
            if message["type"] == "ping":
                await ws.send({"type": "pong"})
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


async def test_revoking_a_token_closes_its_open_websocket_with_4403_within_a_second(app: Harness) -> None:
    me = await app.user()
    made = (await me(CREATE, {"input": {"name": "tab"}}))["createApiToken"]
    tab = Client(app.http, made["token"], me.user_id)
    p = await pipeline(me)
    async with app.ws(tab) as ws, app.ws(me) as other_ws:
        await ws.subscribe(BOARD, {"p": p["id"]})
        await other_ws.subscribe(BOARD, {"p": p["id"]})
        await me(REVOKE, {"id": made["apiToken"]["id"]})
        assert await closed_code(ws, within=1.0) == 4403
        await make_deal(me, name="after revocation")  # the user's other session lives on
        assert (await other_ws.next())["boardChanged"]["deal"]["name"] == "after revocation"


async def test_deactivating_a_user_closes_their_open_websockets_with_4403(app: Harness) -> None:
    admin, me = await app.user(super_admin=True), await app.user()
    p = await pipeline(me)
    async with app.ws(me) as ws:
        await ws.subscribe(BOARD, {"p": p["id"]})
        await admin(UPDATE_USER, {"input": {"id": str(me.user_id), "active": False}})
        assert await closed_code(ws, within=1.0) == 4403


async def test_an_expiring_token_closes_its_open_websocket_with_4403_when_it_expires(app: Harness) -> None:
    me = await app.user()
    made = await me(CREATE, {"input": {"name": "brief", "expiresAt": "2999-01-01T00:00:00+00:00"}})
    token = made["createApiToken"]
    await app.pool.execute(
        "UPDATE api_tokens SET expires_at = now() + interval '1.5 seconds' WHERE id = $1",
        db_id(token["apiToken"]["id"]),
    )
    async with app.ws(Client(app.http, token["token"], me.user_id)) as ws:
        await ws.subscribe(BOARD, {"p": (await pipeline(me))["id"]})
        assert await closed_code(ws, within=3.5) == 4403


async def test_narrowing_view_scope_from_all_to_owned_filters_the_next_event_on_an_open_socket(
    app: Harness,
) -> None:
    admin, me = await app.user(super_admin=True), await app.user()
    p = await pipeline(admin)
    async with app.ws(me) as ws:
        await ws.subscribe(BOARD, {"p": p["id"]})
        await app.listening()
        await make_deal(admin, name="seen while ALL", ownerId=str(admin.user_id))
        assert (await ws.next())["boardChanged"]["deal"]["name"] == "seen while ALL"
        await admin(UPDATE_USER, {"input": {"id": str(me.user_id), "viewScope": "OWNED"}})
        await make_deal(admin, name="someone else's", ownerId=str(admin.user_id))
        await make_deal(admin, name="mine", ownerId=str(me.user_id))
        assert (await ws.next())["boardChanged"]["deal"]["name"] == "mine"
        assert await ws.nothing_within(0.3)


async def test_joining_a_team_widens_team_scope_on_an_open_socket(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    me = await app.user(view_scope=Scope.TEAM, edit_scope=Scope.TEAM)
    mate = await app.user()
    p = await pipeline(admin)
    async with app.ws(me) as ws:
        await ws.subscribe(BOARD, {"p": p["id"]})
        await app.listening()
        await make_deal(admin, name="before the team", ownerId=str(mate.user_id))
        await admin(
            "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
            {"i": {"name": "Pair", "primaryMemberIds": [str(me.user_id), str(mate.user_id)]}},
        )
        await make_deal(admin, name="my teammate's", ownerId=str(mate.user_id))
        assert (await ws.next())["boardChanged"]["deal"]["name"] == "my teammate's"
        assert await ws.nothing_within(0.3)


async def test_open_sessions_are_rechecked_once_per_change_never_per_event(
    query_log: list[str], app: Harness
) -> None:
    admin, me = await app.user(super_admin=True), await app.user()
    p = await pipeline(admin)
    registry = app.server.app.state.services.sessions
    async with app.ws(me) as ws:
        await ws.subscribe(BOARD, {"p": p["id"]})
        before = registry.rechecks
        query_log.clear()
        for i in range(5):
            await make_deal(admin, name=f"deal {i}")
        for _ in range(5):
            await ws.next()
        assert not [q for q in query_log if "t.id = ANY" in q]  # no session re-check per event
        await admin(UPDATE_USER, {"input": {"id": str(me.user_id), "viewScope": "OWNED"}})
        await make_deal(admin, name="now hidden")
        assert await ws.nothing_within(0.5)
        assert registry.rechecks == before + 1
        assert len([q for q in query_log if "t.id = ANY" in q]) == 1


async def test_a_websocket_message_over_64_kib_closes_the_socket_with_4413(app: Harness) -> None:
    me = await app.user()
    async with app.ws(me) as ws:
        huge = "x" * 7_000_000
        await ws.send({"id": "1", "type": "subscribe", "payload": {"query": huge}})
        assert await closed_code(ws, within=5.0) == 4413


async def test_a_connection_runs_at_most_100_subscriptions_and_refuses_more_with_a_code(app: Harness) -> None:
    me = await app.user()
    p = await pipeline(me)
    async with app.ws(me) as ws:
        for _ in range(100):
            await ws.subscribe(BOARD, {"p": p["id"]})
        refused = await ws.subscribe(BOARD, {"p": p["id"]})
        message = await ws.receive()
        assert (message["type"], message["id"]) == ("error", refused)
        assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        await make_deal(me, name="still served")
        assert (await ws.next())["boardChanged"]["deal"]["name"] == "still served"


async def test_a_legacy_graphql_ws_session_closes_with_4403_when_its_user_is_deactivated(
    app: Harness,
) -> None:
    admin, me = await app.user(super_admin=True), await app.user()
    p = await pipeline(me)
    async with websockets.connect(app.server.ws_url, subprotocols=["graphql-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {me.token}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": BOARD, "variables": {"p": p["id"]}}})
        )
        await admin(UPDATE_USER, {"input": {"id": str(me.user_id), "active": False}})
        with pytest.raises(websockets.ConnectionClosed) as closed:  # noqa: PT012
            while True:
                await asyncio.wait_for(socket.recv(), 1.0)  # keep-alives until the close
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
