"""API tokens: named, listed without secrets, optionally expiring, revocable by their user or a super admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.harness import Client, Harness, gid

TOKENS = "query($id: ID!) { users { id apiTokens { id name createdAt lastUsedAt expiresAt revokedAt } } }"
CREATE = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { id name expiresAt revokedAt } userErrors { field code message } }
}"""
REVOKE = """
mutation($input: RevokeApiTokenInput!) {
  revokeApiToken(input: $input) { apiToken { id revokedAt } userErrors { field code message } }
}"""
VIEWER = "{ viewer { id } }"


async def tokens_of(client: Client, user_id: int | None) -> list[dict[str, object]]:
    data = await client("{ users { id apiTokens { id name createdAt lastUsedAt expiresAt revokedAt } } }")
    found: list[dict[str, object]] = next(u for u in data["users"] if u["id"] == gid("User", user_id))[
        "apiTokens"
    ]
    return found


async def create(client: Client, **input: object) -> dict[str, object]:
    payload: dict[str, object] = (await client(CREATE, {"input": input}))["createApiToken"]
    return payload


async def test_a_created_token_is_named_shown_once_and_authenticates_its_user(app: Harness) -> None:
    me = await app.user()
    made = await create(me, name="laptop")
    assert made["userErrors"] == []
    secret = str(made["token"])
    assert secret.startswith("df_")
    assert (await Client(app.http, secret)(VIEWER))["viewer"]["id"] == gid("User", me.user_id)
    listed = await tokens_of(me, me.user_id)
    assert [t["name"] for t in listed] == ["default", "laptop"]
    assert all(secret not in str(t) for t in listed)
    stored = await app.pool.fetchval(
        "SELECT count(*) FROM api_tokens WHERE token_hash::text LIKE $1", f"%{secret}%"
    )
    assert stored == 0  # stored hashed only


async def test_api_tokens_lists_the_viewers_own_and_anyones_for_a_super_admin(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    me, other = await app.user(), await app.user()
    await create(other, name="other's")
    assert await tokens_of(me, other.user_id) == []
    assert [t["name"] for t in await tokens_of(admin, other.user_id)] == ["default", "other's"]
    assert len(await tokens_of(me, me.user_id)) == 1


async def test_a_token_revoked_through_the_api_is_unauthenticated(app: Harness) -> None:
    me = await app.user()
    made = await create(me, name="ci")
    ci = Client(app.http, str(made["token"]))
    assert (await ci(VIEWER))["viewer"]["id"] == gid("User", me.user_id)
    token_id = made["apiToken"]["id"]  # type: ignore[index]
    revoked = (await me(REVOKE, {"input": {"id": token_id}}))["revokeApiToken"]
    assert revoked["userErrors"] == [] and revoked["apiToken"]["revokedAt"] is not None
    body = await ci.raw(VIEWER)
    assert ci.last_status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await me(VIEWER))["viewer"]["id"] == gid("User", me.user_id)  # the user's other token still works


async def test_someone_elses_token_reads_as_not_found_and_stays_valid(app: Harness) -> None:
    me, other = await app.user(), await app.user()
    made = await create(other, name="theirs")
    payload = (await me(REVOKE, {"input": {"id": made["apiToken"]["id"]}}))["revokeApiToken"]  # type: ignore[index]
    assert payload["apiToken"] is None and payload["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await Client(app.http, str(made["token"]))(VIEWER))["viewer"]["id"] == gid("User", other.user_id)
    made_for_other = await create(me, name="x", userId=str(other.user_id))
    assert made_for_other["token"] is None and made_for_other["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_super_admin_creates_and_revokes_anyones_tokens(app: Harness) -> None:
    admin, other = await app.user(super_admin=True), await app.user()
    made = await create(admin, name="for other", userId=str(other.user_id))
    secret = str(made["token"])
    assert (await Client(app.http, secret)(VIEWER))["viewer"]["id"] == gid("User", other.user_id)
    payload = (await admin(REVOKE, {"input": {"id": made["apiToken"]["id"]}}))["revokeApiToken"]  # type: ignore[index]
    assert payload["userErrors"] == []
    assert (await Client(app.http, secret).raw(VIEWER))["errors"][0]["extensions"][
        "code"
    ] == "UNAUTHENTICATED"


async def test_an_expired_token_is_unauthenticated(app: Harness) -> None:
    me = await app.user()
    soon = datetime.now(UTC) + timedelta(hours=1)
    made = await create(me, name="short", expiresAt=soon.isoformat())
    assert made["userErrors"] == [] and made["apiToken"]["expiresAt"] is not None  # type: ignore[index]
    short = Client(app.http, str(made["token"]))
    assert (await short(VIEWER))["viewer"]["id"] == gid("User", me.user_id)
    await app.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'"
    )
    assert (await short.raw(VIEWER))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_cannot_be_created_already_expired_or_without_a_name(app: Harness) -> None:
    me = await app.user()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await create(me, name="old", expiresAt=past))["userErrors"][0]["field"] == ["expiresAt"]
    assert (await create(me, name="  "))["userErrors"][0]["field"] == ["name"]
    assert await app.pool.fetchval("SELECT count(*) FROM api_tokens WHERE user_id = $1", me.user_id) == 1


async def test_last_used_at_is_recorded_when_a_token_authenticates_at_most_once_a_minute(
    app: Harness,
) -> None:
    me = await app.user()
    assert (await tokens_of(me, me.user_id))[0]["lastUsedAt"] is not None  # this very request used it
    first = await app.pool.fetchval("SELECT last_used_at FROM api_tokens WHERE user_id = $1", me.user_id)
    for _ in range(3):
        await me(VIEWER)
    assert (
        await app.pool.fetchval("SELECT last_used_at FROM api_tokens WHERE user_id = $1", me.user_id) == first
    )
