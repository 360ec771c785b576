"""Identity: tokens on HTTP and WebSocket, super-admin guards, user creation."""

from __future__ import annotations

import pytest
import websockets

from db import users as user_store
from tests.harness import Harness, db_id, gid

VIEWER = "{ viewer { id email isSuperAdmin } }"
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id email canApproveDeals } token userErrors { field message code existingId } }
}
"""


async def test_http_request_without_a_token_is_unauthenticated(app: Harness) -> None:
    body = await app.anonymous().raw(VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in body


async def test_http_request_with_an_unknown_token_is_unauthenticated(app: Harness) -> None:
    client = await app.user()
    client.token = "df_not-a-real-token"
    body = await client.raw(VIEWER)
    assert client.last_status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unauthenticated_mutation_writes_nothing(app: Harness) -> None:
    before = await app.pool.fetchval("SELECT count(*) FROM users")
    body = await app.anonymous().raw(CREATE_USER, {"input": {"email": "x@example.com", "name": "X"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await app.pool.fetchval("SELECT count(*) FROM users") == before


async def test_revoked_token_is_refused(app: Harness) -> None:
    client = await app.user()
    assert (await client(VIEWER))["viewer"]["id"] == gid("User", client.user_id)
    async with app.pool.acquire() as conn:
        assert client.token is not None
        assert await user_store.revoke_token(conn, client.token)
    body = await client.raw(VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_deactivated_user_cannot_call(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    client = await app.user()
    await admin(
        "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { user { active } userErrors { code } } }",
        {"id": str(client.user_id)},
    )
    body = await client.raw(VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_websocket_without_a_token_is_refused_at_connection_init(app: Harness) -> None:
    async with websockets.connect(app.server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send('{"type": "connection_init", "payload": {}}')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_websocket_with_a_revoked_token_is_refused(app: Harness) -> None:
    client = await app.user()
    async with app.pool.acquire() as conn:
        assert client.token is not None
        await user_store.revoke_token(conn, client.token)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with app.ws(client):
            pass
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_websocket_from_a_foreign_origin_is_refused(app: Harness) -> None:
    client = await app.user()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with app.ws(client, origin="https://evil.example.org"):
            pass
    assert refused.value.response.status_code == 403


async def test_websocket_from_an_allowed_origin_is_accepted(app: Harness) -> None:
    client = await app.user()
    async with app.ws(client, origin="https://app.example.com") as ws:
        assert ws.socket.subprotocol == "graphql-transport-ws"


async def test_only_super_admins_create_users(app: Harness) -> None:
    client = await app.user()
    body = await client.raw(CREATE_USER, {"input": {"email": "new@example.com", "name": "New"}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await app.pool.fetchval("SELECT count(*) FROM users WHERE email = 'new@example.com'") == 0


async def test_created_user_token_authenticates_that_user(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    data = await admin(
        CREATE_USER, {"input": {"email": "rep@example.com", "name": "Rep", "canApproveDeals": True}}
    )
    created = data["createUser"]
    assert created["userErrors"] == []
    assert created["token"].startswith("df_")
    stored = await app.pool.fetchval(
        "SELECT token_hash FROM api_tokens WHERE user_id = $1", db_id(created["user"]["id"])
    )
    assert created["token"].encode() not in stored  # only the hash is stored
    app_client = app.anonymous()
    app_client.token = created["token"]
    assert (await app_client(VIEWER))["viewer"]["email"] == "rep@example.com"


async def test_duplicate_user_email_is_a_user_error_naming_the_existing_user(app: Harness) -> None:
    admin = await app.user("boss@example.com", super_admin=True)
    data = await admin(CREATE_USER, {"input": {"email": "BOSS@example.com", "name": "Again"}})
    error = data["createUser"]["userErrors"][0]
    assert error["code"] == "DUPLICATE"
    assert error["existingId"] == gid("User", admin.user_id)
    assert data["createUser"]["user"] is None


async def test_malformed_email_is_a_user_error_and_changes_nothing(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    before = await app.pool.fetchval("SELECT count(*) FROM users")
    data = await admin(CREATE_USER, {"input": {"email": "not-an-email", "name": "X"}})
    assert data["createUser"]["userErrors"][0]["code"] == "INVALID"
    assert await app.pool.fetchval("SELECT count(*) FROM users") == before


async def test_teams_have_primary_and_additional_members(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    a, b = await app.user(), await app.user()
    data = await admin(
        """mutation($p: [ID!]!, $x: [ID!]!) { createTeam(input: {name: "West", primaryMemberIds: $p,
           additionalMemberIds: $x}) { team { name primaryMembers { id } additionalMembers { id } } userErrors { code } } }""",
        {"p": [str(a.user_id)], "x": [str(b.user_id)]},
    )
    team = data["createTeam"]["team"]
    assert [m["id"] for m in team["primaryMembers"]] == [gid("User", a.user_id)]
    assert [m["id"] for m in team["additionalMembers"]] == [gid("User", b.user_id)]
    teams = await a("{ viewer { teams { name } } }")
    assert teams["viewer"]["teams"] == [{"name": "West"}]


async def test_healthz_answers_when_the_database_does(app: Harness) -> None:
    response = await app.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
