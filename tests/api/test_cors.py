"""CORS from ALLOWED_ORIGINS over plain HTTP: preflight answered, headers for allowed origins only."""

from __future__ import annotations

import asyncpg
import httpx

from dealflow.settings import Settings
from tests.harness import Harness, live_server

ALLOWED = "https://app.example.com"  # the `app` fixture's ALLOWED_ORIGINS
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def test_a_preflight_from_an_allowed_origin_is_answered_allowing_authorization(app: Harness) -> None:
    response = await app.http.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_a_preflight_from_another_origin_gets_no_cors_headers(app: Harness) -> None:
    response = await app.http.options("/graphql", headers={"Origin": "https://evil.example.org", **PREFLIGHT})
    assert response.status_code == 400
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_responses_to_an_allowed_origin_carry_cors_and_expose_the_rate_limit_headers(
    app: Harness,
) -> None:
    client = await app.user()
    headers = {"Origin": ALLOWED, "Authorization": f"Bearer {client.token}"}
    response = await app.http.post("/graphql", json={"query": "{ viewer { id } }"}, headers=headers)
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert {"x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"} <= set(exposed.split(", "))


async def test_a_refusal_is_readable_by_an_allowed_origin(app: Harness) -> None:
    response = await app.http.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers={"Origin": ALLOWED}
    )
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_responses_to_another_origin_carry_no_cors_headers(app: Harness) -> None:
    client = await app.user()
    headers = {"Origin": "https://evil.example.org", "Authorization": f"Bearer {client.token}"}
    response = await app.http.post("/graphql", json={"query": "{ viewer { id } }"}, headers=headers)
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


async def test_without_allowed_origins_no_origin_gets_cors_headers(db_dsn: str, pool: asyncpg.Pool) -> None:
    async with live_server(db_dsn, Settings()) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert response.status_code == 405
        assert "Access-Control-Allow-Origin" not in response.headers
