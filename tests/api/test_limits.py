"""API conduct: depth, alias, token and body limits, GET for queries only, masked errors."""

from __future__ import annotations

import pytest

import db.users
from schema import LIMIT_RULES, MAX_ALIASES, MAX_DEPTH
from tests.harness import Harness, gid


def nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"teams {{ primaryMembers {{ {inner} }} }}"
    return "{ viewer { " + inner + " } }"


async def test_a_query_deeper_than_the_limit_is_refused_with_a_clear_error(app: Harness) -> None:
    client = await app.user()
    body = await client.raw(nested(MAX_DEPTH))
    assert "data" not in body or body["data"] is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_a_query_within_the_depth_limit_runs(app: Harness) -> None:
    client = await app.user()
    assert (await client(nested(2)))["viewer"]["teams"] == []


async def test_a_heavily_aliased_query_is_refused_with_a_clear_error(app: Harness) -> None:
    client = await app.user()
    aliases = " ".join(f"a{i}: viewer {{ id }}" for i in range(MAX_ALIASES + 1))
    body = await client.raw("{ " + aliases + " }")
    assert f"{MAX_ALIASES + 1} aliases found" in body["errors"][0]["message"]


async def test_a_document_with_too_many_tokens_is_refused(app: Harness) -> None:
    client = await app.user()
    fields = " ".join("id" for _ in range(6000))
    body = await client.raw("{ viewer { " + fields + " } }")
    assert "more than 5000 tokens" in body["errors"][0]["message"]


async def test_a_body_over_the_limit_is_refused_with_413(app: Harness) -> None:
    client = await app.user()
    response = await app.http.post(
        "/graphql",
        content=b'{"query": "{ viewer { id } }", "pad": "' + b"x" * 2_000_000 + b'"}',
        headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_mutations_over_get_are_refused(app: Harness) -> None:
    client = await app.user(super_admin=True)
    response = await app.http.get(
        "/graphql",
        params={"query": 'mutation { createTeam(input: {name: "T"}) { team { id } } }'},
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert response.status_code in {400, 405}
    assert await app.pool.fetchval("SELECT count(*) FROM teams") == 0


async def test_queries_over_get_are_answered(app: Harness) -> None:
    client = await app.user()
    response = await app.http.get(
        "/graphql", params={"query": "{ viewer { id } }"}, headers={"Authorization": f"Bearer {client.token}"}
    )
    assert response.json()["data"]["viewer"]["id"] == gid("User", client.user_id)


async def test_unexpected_errors_are_masked_outside_dev(
    app: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await app.user()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(db.users, "list_users", broken)
    body = await client.raw("{ users { id } }")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)


async def test_field_suggestions_are_off_outside_dev(app: Harness) -> None:
    client = await app.user()
    body = await client.raw("{ viewer { emial } }")
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_validation_is_cached_across_requests(app: Harness) -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache

    client = await app.user()
    cache = _get_validate_cache(512)
    query = "{ viewer { id name } }"
    await client(query)
    hits_before = cache.cache_info().hits
    for _ in range(3):
        await client(query)
    assert cache.cache_info().hits - hits_before == 3
    assert len(LIMIT_RULES) == 3


async def test_a_query_over_the_complexity_bound_is_refused_naming_its_cost(app: Harness) -> None:
    client = await app.user()
    board = '{ board(pipelineId: "1", perStage: 50) { columns { deals { edges { node { id owner { id } contacts { id } } } } } } }'
    assert "errors" not in await client.raw(board)
    nested = (
        "{ contacts(first: 200) { edges { node { deals { contacts { companies { deals { id } } } } } } } }"
    )
    body = await client.raw(nested)
    assert body["errors"][0]["message"].startswith("Query complexity")
    assert body.get("data") is None
