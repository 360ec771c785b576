"""Per-token rate limits: headers on every response, cost in extensions, 429 over budget, shared."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import websockets

from db import ratelimits
from db import users as user_store
from dealflow.ratelimit import COST_UNIT
from dealflow.settings import Settings
from tests.harness import Harness, live_server

VIEWER = "{ viewer { id } }"
CONTACTS = "{ contacts(first: 20) { edges { node { id email firstName } } } }"  # costs 9 points

# Windows start on multiples of their length: a test that crossed a minute's start saw its budget
# restored half way. An hour's start falls inside a test of a few seconds once in a thousand runs.
WINDOW = 3600


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_every_response_carries_the_rate_limit_headers(app: Harness) -> None:
    client = await app.user()
    ok = await app.http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
    bad_json = await app.http.post(
        "/graphql", content=b"{ nope", headers={**bearer(client.token), "Content-Type": "application/json"}
    )
    for response in (ok, bad_json):
        assert response.headers["X-RateLimit-Limit"] == "10000"
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() - 1 < reset <= time.time() + 61
    assert ok.headers["X-RateLimit-Remaining"] == "9999"
    assert bad_json.status_code == 400
    assert bad_json.headers["X-RateLimit-Remaining"] == "9999"  # refused before execution: not charged


async def test_the_operation_cost_is_in_extensions_and_is_charged(app: Harness) -> None:
    client = await app.user()
    small = await client.raw(VIEWER)
    assert small["extensions"]["cost"] == 1
    big = await app.http.post("/graphql", json={"query": CONTACTS}, headers=bearer(client.token))
    cost = big.json()["extensions"]["cost"]
    # schema/complexity.py: contacts 1 + 20 pages x (edges 1 + 10 unpaged x (node 1 + 3 fields)) = 821
    assert cost == math.ceil(821 / COST_UNIT) == 9
    assert big.headers["X-RateLimit-Remaining"] == str(10_000 - 1 - cost)


async def test_a_one_point_request_is_authenticated_and_charged_by_one_statement(
    query_log: list[str], app: Harness
) -> None:
    """The token's viewer and a provisional point in one statement (dealflow.ratelimit.RateLimiter):
    an operation that costs one point needs nothing more; a dearer one is charged the rest."""
    client = await app.user()
    query_log.clear()
    assert (await client.raw(VIEWER))["extensions"]["cost"] == 1
    charges = [q for q in query_log if "rate_limits" in q]
    assert len(charges) == 1
    assert "api_tokens" in charges[0]
    query_log.clear()
    assert (await client.raw(CONTACTS))["extensions"]["cost"] == 9
    assert len([q for q in query_log if "rate_limits" in q]) == 2


async def test_each_token_has_its_own_budget(app: Harness) -> None:
    first, second = await app.user(), await app.user()
    await first.raw(VIEWER)
    await first.raw(VIEWER)
    response = await app.http.post("/graphql", json={"query": VIEWER}, headers=bearer(second.token))
    assert response.headers["X-RateLimit-Remaining"] == "9999"


async def test_a_client_over_its_budget_gets_429_with_retry_after_and_rate_limited(
    db_dsn: str, pool: asyncpg.Pool
) -> None:
    settings = Settings(rate_limit_points=3, rate_limit_window_seconds=WINDOW)
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        harness = Harness(pool=pool, server=server, http=http)
        client = await harness.user(super_admin=True)
        for remaining in ("2", "1", "0"):
            response = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Remaining"] == remaining
        create = 'mutation { createTeam(input: {name: "Late"}) { team { id } } }'
        refused = await http.post("/graphql", json={"query": create}, headers=bearer(client.token))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "costs 1 points and 0 of 3 are left" in error["message"]
        assert await pool.fetchval("SELECT count(*) FROM teams") == 0  # nothing ran


async def test_a_refused_operation_is_not_charged_so_a_cheaper_one_still_fits(
    db_dsn: str, pool: asyncpg.Pool
) -> None:
    settings = Settings(rate_limit_points=5, rate_limit_window_seconds=WINDOW)
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        client = await Harness(pool=pool, server=server, http=http).user()
        refused = await http.post("/graphql", json={"query": CONTACTS}, headers=bearer(client.token))
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Remaining"] == "5"
        cheap = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
        assert cheap.status_code == 200
        assert cheap.headers["X-RateLimit-Remaining"] == "4"


async def test_the_budget_is_shared_by_every_process_on_one_database(db_dsn: str, pool: asyncpg.Pool) -> None:
    settings = Settings(rate_limit_points=4, rate_limit_window_seconds=WINDOW)
    async with (
        live_server(db_dsn, settings) as one,
        live_server(db_dsn, settings) as two,
        httpx.AsyncClient(base_url=one.url) as http_one,
        httpx.AsyncClient(base_url=two.url) as http_two,
    ):
        client = await Harness(pool=pool, server=one, http=http_one).user()
        statuses = []
        for http in (http_one, http_two, http_one, http_two, http_two):
            response = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
            statuses.append((response.status_code, response.headers["X-RateLimit-Remaining"]))
        assert statuses == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0")]


async def test_a_new_window_restores_the_budget(db_dsn: str, pool: asyncpg.Pool) -> None:
    settings = Settings(rate_limit_points=1, rate_limit_window_seconds=1)
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        client = await Harness(pool=pool, server=server, http=http).user()
        statuses = set()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and statuses != {200, 429}:
            response = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
            statuses.add(response.status_code)
        assert statuses == {200, 429}
        await_reset = int(response.headers["X-RateLimit-Reset"]) - time.time()
        assert await_reset <= 1.5
        await asyncio.sleep(max(0.0, await_reset) + 0.05)
        response = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
        assert response.status_code == 200


async def test_a_page_size_given_as_a_variable_costs_its_value_and_the_largest_page_when_absent(
    app: Harness,
) -> None:
    client = await app.user()
    query = "query($n: Int) { contacts(first: $n) { edges { node { id email firstName } } } }"
    assert (await client.raw(query, {"n": 20}))["extensions"]["cost"] == 9  # as CONTACTS, first: 20
    assert (await client.raw(query, {}))["extensions"]["cost"] == math.ceil((1 + 200 * 41) / COST_UNIT)


async def test_paging_backward_costs_the_last_page_size_with_first_sent_as_null(app: Harness) -> None:
    client = await app.user()
    query = (
        "query($f: Int, $l: Int) { contacts(first: $f, last: $l) { edges { node { id email firstName } } } }"
    )
    assert (await client.raw(query, {"f": None, "l": 20}))["extensions"]["cost"] == 9  # as first: 20
    defaulted = "query($l: Int = 20) { contacts(last: $l) { edges { node { id email firstName } } } }"
    assert (await client.raw(defaulted, {}))["extensions"]["cost"] == 9


NOTIFICATIONS = "subscription { notificationReceived { sequence } }"  # costs 1 point


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_operations_started_on_a_websocket_draw_on_the_tokens_budget(
    db_dsn: str, pool: asyncpg.Pool, protocol: str
) -> None:
    """DESIGN 10: one budget per token, whichever way its operations arrive; over budget, the
    operation is refused with RATE_LIMITED and the socket stays open for what fits later."""
    settings = Settings(rate_limit_points=3, rate_limit_window_seconds=WINDOW)
    async with live_server(db_dsn, settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        client = await Harness(pool=pool, server=server, http=http).user()
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:  # type: ignore[list-item]
            payload = {"Authorization": f"Bearer {client.token}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            for op in ("1", "2"):
                await socket.send(json.dumps({"id": op, "type": start, "payload": {"query": NOTIFICATIONS}}))
            await _charged(pool, 2)  # the socket's operations are charged as the server reads them
            response = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
            assert response.headers["X-RateLimit-Remaining"] == "0"  # two subscriptions and this request
            await socket.send(json.dumps({"id": "3", "type": start, "payload": {"query": NOTIFICATIONS}}))
            refused = await _first_error(socket)
            assert refused["id"] == "3"
            error = refused["payload"][0] if isinstance(refused["payload"], list) else refused["payload"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert 1 <= error["extensions"]["retryAfter"] <= WINDOW
            assert "costs 1 points and 0 of 3 are left" in error["message"]
        over = await http.post("/graphql", json={"query": VIEWER}, headers=bearer(client.token))
        assert over.status_code == 429


async def _first_error(socket: websockets.ClientConnection) -> dict[str, object]:
    while True:
        message: dict[str, object] = json.loads(await asyncio.wait_for(socket.recv(), 5))
        if message["type"] == "error":
            return message


async def _charged(pool: asyncpg.Pool, points: int) -> None:
    for _ in range(500):  # the table is the only sign a socket's operation was charged: poll it
        if await pool.fetchval("SELECT coalesce(max(used), 0) FROM rate_limits") >= points:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never charged {points} points")


@pytest.mark.parametrize("statement", ["charge", "authenticate_and_charge", "refund"])
async def test_a_charge_is_soft_state_whose_commit_never_waits_for_the_disk(
    pool: asyncpg.Pool, statement: str
) -> None:
    """Every request commits a charge before its own work: with synchronous_commit off for that one
    transaction it is visible at once and never waits for a WAL flush. A crash may forget the last
    charges of a window (harmless: a window is a minute); nothing else changes how it commits."""
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email="soft@example.com", name="Soft")
        token_hash = user_store.hash_token(await user_store.insert_token(conn, user.id))
        before = await conn.fetchval("SHOW synchronous_commit")
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = on")  # as a server's would be
            if statement == "charge":
                await ratelimits.charge(conn, token_hash, 1, 10, WINDOW)
            elif statement == "refund":
                await ratelimits.refund(conn, token_hash, 1, datetime.now(UTC), WINDOW)
            else:
                assert await ratelimits.authenticate_and_charge(conn, token_hash, 1, 10, WINDOW) is not None
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        assert await conn.fetchval("SHOW synchronous_commit") == before  # for that transaction only
