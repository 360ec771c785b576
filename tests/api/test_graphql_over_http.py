"""GraphQL over HTTP: media types by Accept, the spec's status codes, graphql-http's audits."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from dealflow.responses import GRAPHQL_RESPONSE_JSON, JSON, negotiate
from tests.api.test_auth import CREATE_USER
from tests.harness import Harness, gid
from tests.npm import JS, node_modules


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", JSON),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, application/json", JSON),
        ("text/html", JSON),
    ],
)
def test_the_response_media_type_is_the_acceptable_one_with_the_highest_q(
    accept: str | None, expected: str
) -> None:
    assert negotiate(accept) == expected


async def post(app: Harness, token: str | None, accept: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept": accept, "Content-Type": "application/json"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await app.http.post("/graphql", content=content, headers=headers)


async def test_a_client_accepting_graphql_response_json_gets_that_media_type(app: Harness) -> None:
    client = await app.user()
    response = await post(app, client.token, GRAPHQL_RESPONSE_JSON, {"query": "{ viewer { id } }"})
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.json()["data"]["viewer"]["id"] == gid("User", client.user_id)


@pytest.mark.parametrize(
    "request_body",
    [
        {"query": "{"},
        {"query": "{ noSuchField }"},
        {"query": "query($id: ID!) { __typename }", "variables": {"id": None}},
    ],
    ids=["parse", "validation", "variables"],
)
async def test_a_request_error_is_400_without_data_in_graphql_response_json_and_200_in_json(
    app: Harness, request_body: dict[str, Any]
) -> None:
    client = await app.user()
    modern = await post(app, client.token, GRAPHQL_RESPONSE_JSON, request_body)
    assert modern.status_code == 400
    assert modern.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert "data" not in modern.json() and modern.json()["errors"]
    legacy = await post(app, client.token, "application/json", request_body)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == JSON
    assert legacy.json()["data"] is None and legacy.json()["errors"]


async def test_a_field_error_keeps_200_and_the_data_entry_even_when_null(app: Harness) -> None:
    client = await app.user()
    request_body = {"query": CREATE_USER, "variables": {"input": {"email": "x@example.com", "name": "X"}}}
    response = await post(app, client.token, GRAPHQL_RESPONSE_JSON, request_body)
    assert response.status_code == 200
    assert "data" in response.json() and response.json()["data"] is None  # createUser is non-null
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_body_that_is_not_json_gets_400_with_a_graphql_error(app: Harness) -> None:
    client = await app.user()
    response = await post(app, client.token, GRAPHQL_RESPONSE_JSON, b'{ "not a JSON')
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    error = response.json()["errors"][0]
    assert error == {"message": "Unable to parse request body as JSON", "extensions": {"code": "BAD_REQUEST"}}


async def test_an_unauthenticated_request_is_401_in_the_accepted_media_type(app: Harness) -> None:
    response = await post(app, "df_not_a_token", GRAPHQL_RESPONSE_JSON, {"query": "{ viewer { id } }"})
    assert response.status_code == 401
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphql_http_audits_pass_with_no_warnings_and_no_errors(app: Harness) -> None:
    node_modules()
    client = await app.user()
    process = await asyncio_subprocess(
        ["node", str(JS / "audit.mjs"), app.server.url + "/graphql", client.token]
    )
    summary = json.loads(process)
    assert summary["problems"] == []
    assert (summary["warn"], summary["error"]) == (0, 0)
    assert summary["ok"] >= 60


async def asyncio_subprocess(args: list[str | None]) -> str:
    """Run a command without blocking the loop the server runs in; its stdout."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        *[str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out.decode()
