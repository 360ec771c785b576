"""Webhooks over the API: who may manage them, the secret shown once, signed in-order deliveries,
retries, failing endpoints, replay, refused destinations and REPLAY_TOO_OLD after pruning."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from db import events as event_store
from dealflow.settings import Settings
from domain.events import NewEvent
from resolvers import webhook_sender
from resolvers.retention import Horizons, Pruner
from resolvers.webhook_transport import Refused, resolve_allowed
from tests.harness import Client, GraphQLErrors, Harness, live_server
from tests.webhook_receiver import Receiver, serve

CREATE = """
mutation($url: String!, $types: [String!]!) {
  createWebhook(input: {url: $url, eventTypes: $types}) {
    webhook { id url eventTypes active failing } secret userErrors { field message code } } }"""
UPDATE = """
mutation($input: UpdateWebhookInput!) {
  updateWebhook(input: $input) { webhook { id url active failing eventTypes } userErrors { field code } } }"""
REPLAY = """
mutation($id: ID!, $after: String!) {
  replayWebhook(input: {id: $id, after: $after}) { webhook { id cursor } oldestSequence userErrors { field code message } } }"""
DELIVERIES = """
{ webhooks { id failing active deliveries(first: 100) { totalCount edges { node {
    sequence eventType status attempts lastResponseCode lastAttemptAt nextAttemptAt } } } } }"""


@pytest.fixture
async def dev_app(pool: asyncpg.Pool, db_dsn: str) -> AsyncIterator[Harness]:
    """A dev server (http to 127.0.0.1 allowed) whose webhook retries come in a fraction of a second."""
    settings = Settings(  # these tests poll deliveries often: a budget they never reach
        env="dev", webhook_retry_base_seconds=0.05, webhook_timeout_seconds=2, rate_limit_points=10_000_000
    )
    async with (
        live_server(db_dsn, settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        yield Harness(pool=pool, server=server, http=http)


async def append(pool: asyncpg.Pool, *types: str, pipeline_id: int | None = None) -> int:
    """Commits events; the sequence the last of them got at commit."""
    batch = uuid.uuid4().hex
    events = [
        NewEvent(type=t, payload={"n": i, "batch": batch}, pipeline_id=pipeline_id)
        for i, t in enumerate(types)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await event_store.append(conn, events)
    await event_store.stamp(pool)  # as the server's relay would on its next poll
    last: int = await pool.fetchval("SELECT max(sequence) FROM events WHERE payload->>'batch' = $1", batch)
    return last


async def create(admin: Client, url: str, types: list[str]) -> dict[str, Any]:
    payload: dict[str, Any] = (await admin(CREATE, {"url": url, "types": types}))["createWebhook"]
    return payload


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_only_super_admins_create_list_and_change_webhooks(app: Harness) -> None:
    user = await app.user()
    refused = await create(user, "https://hooks.example.com/in", ["deal.*"])
    assert refused["webhook"] is None and refused["secret"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    body = await user.raw("{ webhooks { id } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await app.pool.fetchval("SELECT count(*) FROM webhooks") == 0


async def test_the_secret_is_shown_once_and_never_listed(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    created = await create(admin, "https://hooks.example.com/in", ["deal.created", "contact.*"])
    assert created["userErrors"] == [] and created["secret"].startswith("whsec_")
    assert created["webhook"]["eventTypes"] == ["deal.created", "contact.*"]
    with pytest.raises(GraphQLErrors, match="secret"):
        await admin("{ webhooks { id secret } }")
    assert (await admin("{ webhooks { id url } }"))["webhooks"] == [
        {"id": created["webhook"]["id"], "url": "https://hooks.example.com/in"}
    ]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("http://hooks.example.com/in", "url"),
        ("https://127.0.0.1/in", "url"),
        ("https://10.1.2.3/in", "url"),
        ("https://169.254.169.254/latest", "url"),
        ("https://[::1]/in", "url"),
        ("https://user:pw@hooks.example.com/in", "url"),
        ("not a url", "url"),
    ],
)
async def test_production_refuses_plain_http_and_private_destinations(
    app: Harness, url: str, field: str
) -> None:
    admin = await app.user(super_admin=True)
    refused = await create(admin, url, ["deal.*"])
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", [field])]
    assert await app.pool.fetchval("SELECT count(*) FROM webhooks") == 0


async def test_event_types_must_be_names_or_prefixes(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    for types in ([], ["de*al"], ["deal created"]):
        refused = await create(admin, "https://hooks.example.com/in", types)
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["eventTypes"])]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "10.0.0.8", "169.254.169.254", "::1", "fd00::1"])
async def test_a_host_resolving_to_a_private_address_is_refused_when_sending(host: str) -> None:
    with pytest.raises(Refused):
        await resolve_allowed(host, 443)


async def test_every_matching_event_arrives_signed_once_in_sequence_order(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    receiver = Receiver()
    async with serve(receiver) as url:
        created = await create(admin, url, ["deal.*", "contact.created"])
        receiver.secret = created["secret"]
        last = 0
        for _ in range(5):
            last = await append(
                dev_app.pool, "deal.created", "quote.created", "contact.created", "deal.moved"
            )
        await eventually(lambda: len(receiver.unique_sequences()) == 15)
    assert receiver.rejected == 0
    sequences = receiver.unique_sequences()
    assert sequences == sorted(sequences) and len(set(sequences)) == 15 and sequences[-1] == last
    assert {r["body"]["type"] for r in receiver.received} == {"deal.created", "contact.created", "deal.moved"}
    assert set(receiver.ids()) == {f"evt_{s}" for s in sequences}
    assert receiver.received[0]["body"]["data"]["n"] == 0  # the payload as stored


async def test_failed_deliveries_are_retried_in_order_and_visible(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    receiver = Receiver(plan=["500", "500", "sleep:3", "500"])  # 5xx, 5xx, a timeout, 5xx, then ok
    async with serve(receiver) as url:
        created = await create(admin, url, ["deal.*"])
        receiver.secret = created["secret"]
        first = await append(dev_app.pool, "deal.created", "deal.moved", "deal.updated")
        await eventually(lambda: len(receiver.unique_sequences()) == 3, timeout=20)
    assert receiver.unique_sequences() == [first - 2, first - 1, first]
    hooks = (await admin(DELIVERIES))["webhooks"]
    nodes = [e["node"] for e in hooks[0]["deliveries"]["edges"]]
    assert [n["sequence"] for n in nodes] == [str(first), str(first - 1), str(first - 2)]  # newest first
    assert nodes[-1]["status"] == "DELIVERED" and nodes[-1]["attempts"] == 5
    assert nodes[-1]["lastResponseCode"] == 200 and nodes[-1]["nextAttemptAt"] is None
    assert [n["attempts"] for n in nodes[:2]] == [1, 1]


async def test_a_failing_endpoint_does_not_delay_another(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    slow, fast = Receiver(mode="sleep:1.5"), Receiver()
    async with serve(slow) as slow_url, serve(fast) as fast_url:
        slow.secret = (await create(admin, slow_url, ["deal.*"]))["secret"]
        fast.secret = (await create(admin, fast_url, ["deal.*"]))["secret"]
        await append(dev_app.pool, *["deal.created"] * 10)
        await eventually(lambda: len(fast.received) == 10, timeout=5)
        assert len(slow.received) <= 2


async def test_an_endpoint_is_marked_failing_after_the_retry_window_and_admins_are_told(
    pool: asyncpg.Pool, db_dsn: str
) -> None:
    settings = Settings(
        env="dev",
        webhook_retry_base_seconds=0.05,
        webhook_give_up_hours=0.3 / 3600,
        rate_limit_points=10_000_000,
    )
    receiver = Receiver(mode="500")
    async with (
        live_server(db_dsn, settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        serve(receiver) as url,
    ):
        harness = Harness(pool=pool, server=server, http=http)
        admin = await harness.user(super_admin=True)
        created = await create(admin, url, ["deal.*"])
        receiver.secret = created["secret"]
        hook_id = created["webhook"]["id"]
        last = await append(pool, "deal.created")
        for _ in range(200):
            if (await admin(DELIVERIES))["webhooks"][0]["failing"]:
                break
            await asyncio.sleep(0.05)
        hook = (await admin(DELIVERIES))["webhooks"][0]
        assert hook["failing"] and hook["deliveries"]["edges"][0]["node"]["status"] == "FAILED"
        kinds = await pool.fetch(
            "SELECT n.kind FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.email <> 'dev@localhost'"
        )  # a dev server also has its own super admin, dev@localhost, who is told as well
        assert [r["kind"] for r in kinds] == ["WEBHOOK_FAILING"]
        admins = await pool.fetch("SELECT user_id FROM notifications WHERE kind = 'WEBHOOK_FAILING'")
        assert admin.user_id in [r["user_id"] for r in admins]
        receiver.mode = "ok"
        await asyncio.sleep(0.3)
        assert receiver.received == []  # failing: nothing is sent until re-enabled
        enabled = (await admin(UPDATE, {"input": {"id": hook_id, "active": True}}))["updateWebhook"]
        assert enabled["webhook"]["failing"] is False
        await eventually(lambda: len(receiver.received) == 1)
    assert receiver.unique_sequences() == [last]


async def test_replay_resends_matching_events_after_a_sequence_with_the_same_ids(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    receiver = Receiver()
    async with serve(receiver) as url:
        created = await create(admin, url, ["deal.created"])
        receiver.secret = created["secret"]
        start = await event_store.stamp(dev_app.pool)
        await append(dev_app.pool, "deal.created", "deal.moved", "deal.created", "deal.created")
        await eventually(lambda: len(receiver.received) == 3)
        first_ids = receiver.ids()
        replayed = (await admin(REPLAY, {"id": created["webhook"]["id"], "after": str(start + 1)}))[
            "replayWebhook"
        ]
        assert replayed["userErrors"] == []
        await eventually(lambda: len(receiver.received) == 5)
    assert receiver.ids() == first_ids + first_ids[1:]


async def test_replay_refuses_a_sequence_not_yet_committed_or_not_a_number(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    hook_id = (await create(admin, "https://hooks.example.com/in", ["deal.*"]))["webhook"]["id"]
    for after in ("999999", "-1", "abc"):
        refused = (await admin(REPLAY, {"id": hook_id, "after": after}))["replayWebhook"]
        assert [e["code"] for e in refused["userErrors"]] == ["INVALID"]


async def test_pruning_answers_replay_too_old_before_the_horizon_and_no_gap_after(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    hook = (await create(admin, "https://hooks.example.com/in", ["deal.*"]))["webhook"]
    await app.pool.execute("UPDATE webhooks SET active = false")  # an inactive endpoint holds nothing back
    old = await append(app.pool, *["deal.created"] * 10, pipeline_id=1)
    await app.pool.execute(
        "UPDATE events SET created_at = now() - interval '40 days' WHERE sequence <= $1", old - 3
    )
    kept = await append(app.pool, "deal.created", "deal.moved", pipeline_id=1)
    pruned = await Pruner(app.pool, Horizons(outbox_days=30)).prune()
    assert pruned["events"] == old - 3
    oldest = old - 2

    refused = (await admin(REPLAY, {"id": hook["id"], "after": str(oldest - 2)}))["replayWebhook"]
    assert [e["code"] for e in refused["userErrors"]] == ["REPLAY_TOO_OLD"]
    assert refused["oldestSequence"] == str(oldest)
    assert (await admin(REPLAY, {"id": hook["id"], "after": str(oldest - 1)}))["replayWebhook"][
        "userErrors"
    ] == []

    query = "subscription($after: String) { boardChanged(pipelineId: 1, after: $after) { sequence } }"
    async with app.ws(admin) as ws:
        await ws.subscribe(query, {"after": str(oldest - 2)})
        message = await ws.receive()
        assert "REPLAY_TOO_OLD" in str(message) and str(oldest) in str(message)
    async with app.ws(admin) as ws:
        await ws.subscribe(query, {"after": str(oldest - 1)})
        seen = [int((await ws.next())["boardChanged"]["sequence"]) for _ in range(kept - oldest + 1)]
    assert seen == list(range(oldest, kept + 1))  # no gap after the horizon


async def test_pruning_never_passes_an_active_webhooks_cursor(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    await create(admin, "https://hooks.example.com/in", ["deal.*"])  # cannot be reached: its cursor stays
    cursor = await app.pool.fetchval("SELECT cursor FROM webhooks")
    await append(app.pool, *["deal.created"] * 5)
    await app.pool.execute("UPDATE events SET created_at = now() - interval '40 days'")
    await Pruner(app.pool, Horizons(outbox_days=30)).prune()
    assert await event_store.pruned_through(app.pool) <= cursor
    assert await app.pool.fetchval("SELECT count(*) FROM events WHERE sequence > $1", cursor) == 5


async def test_pruning_while_a_replay_and_a_subscriber_run_leaves_neither_a_gap(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    receiver = Receiver(mode="sleep:0.05")
    query = "subscription($after: String) { boardChanged(pipelineId: 1, after: $after) { sequence } }"
    old = await append(dev_app.pool, *["deal.created"] * 12, pipeline_id=1)
    await dev_app.pool.execute("UPDATE events SET created_at = now() - interval '40 days'")
    async with serve(receiver) as url, dev_app.ws(admin) as live:
        created = await create(admin, url, ["deal.*"])
        receiver.secret = created["secret"]
        await live.subscribe(query, {"after": str(old)})
        await admin(REPLAY, {"id": created["webhook"]["id"], "after": "0"})  # replaying 1..12, slowly
        for _ in range(500):  # until the replay has recorded a few deliveries
            if await dev_app.pool.fetchval("SELECT cursor FROM webhooks") >= 3:
                break
            await asyncio.sleep(0.02)
        pruned = await Pruner(dev_app.pool, Horizons(outbox_days=30)).prune()
        through = await event_store.pruned_through(dev_app.pool)
        assert 0 < pruned["events"] == through < old  # held back by the replay's cursor
        newer = await append(dev_app.pool, "deal.moved", "deal.updated", pipeline_id=1)
        await eventually(lambda: len(receiver.unique_sequences()) == newer)
        seen = [int((await live.next())["boardChanged"]["sequence"]) for _ in range(2)]
    assert receiver.unique_sequences() == list(range(1, newer + 1))  # the replay: no gap
    assert seen == [newer - 1, newer]  # the live subscriber: no gap
    async with dev_app.ws(admin) as late:
        await late.subscribe(query, {"after": str(through - 1)})
        message = str(await late.receive())
        assert "REPLAY_TOO_OLD" in message and f"'oldestSequence': '{through + 1}'" in message


async def test_update_changes_url_and_types_and_refuses_bad_input(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    hook_id = (await create(admin, "https://hooks.example.com/in", ["deal.*"]))["webhook"]["id"]
    change = {
        "id": hook_id,
        "url": "https://other.example.com/in",
        "eventTypes": ["quote.*"],
        "active": False,
    }
    updated = (await admin(UPDATE, {"input": change}))["updateWebhook"]
    assert updated["userErrors"] == []
    assert updated["webhook"] == {
        "id": hook_id, "url": "https://other.example.com/in", "active": False, "failing": False, "eventTypes": ["quote.*"]
    }  # fmt: skip
    bad = (await admin(UPDATE, {"input": {"id": hook_id, "url": "http://other.example.com/in"}}))[
        "updateWebhook"
    ]
    assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [("INVALID", ["url"])]
    missing = (await admin(UPDATE, {"input": {"id": "999999", "active": True}}))["updateWebhook"]
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [("NOT_FOUND", ["id"])]
    assert await app.pool.fetchval("SELECT url FROM webhooks") == "https://other.example.com/in"


async def test_production_never_sends_to_a_host_that_resolves_to_loopback(app: Harness) -> None:
    admin = await app.user(super_admin=True)
    created = await create(admin, "https://localhost/in", ["deal.*"])  # a name: checked when sending
    assert created["userErrors"] == []
    last = await append(app.pool, "deal.created")
    query = "{ webhooks { deliveries { edges { node { sequence status attempts lastResponseCode lastError } } } } }"
    for _ in range(250):
        edges = (await admin(query))["webhooks"][0]["deliveries"]["edges"]
        if edges:
            break
        await asyncio.sleep(0.02)
    node = edges[0]["node"]
    assert (node["sequence"], node["status"], node["attempts"], node["lastResponseCode"]) == (
        str(last),
        "PENDING",
        1,
        None,
    )
    assert node["lastError"].startswith("refused: localhost resolves to")


async def test_redirects_are_not_followed_but_count_as_failures(dev_app: Harness) -> None:
    admin = await dev_app.user(super_admin=True)
    receiver = Receiver(plan=["307"])  # a 307 would repeat the POST, signed, at the Location
    async with serve(receiver) as url:
        receiver.secret = (await create(admin, url, ["deal.*"]))["secret"]
        last = await append(dev_app.pool, "deal.created")
        await eventually(lambda: len(receiver.received) == 1)
    assert receiver.received[0]["query"] == ""  # the retry went to the URL, not to the Location
    node = (await admin(DELIVERIES))["webhooks"][0]["deliveries"]["edges"][0]["node"]
    assert (node["sequence"], node["status"], node["attempts"]) == (str(last), "DELIVERED", 2)


@pytest.fixture
def no_sender_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook sender wakes only when told (a poll always claims): set before the server starts."""
    monkeypatch.setattr(webhook_sender, "POLL_SECONDS", 60.0)


async def test_without_an_active_endpoint_a_stamp_costs_no_claim_and_a_new_one_is_served_at_once(
    query_log: list[str], no_sender_polls: None, dev_app: Harness
) -> None:
    """Every stamp NOTIFYs the senders; with no active endpoint there is nothing to claim, so they
    do not ask (migration 0019 tells them when an endpoint is added or switched on)."""
    admin = await dev_app.user(super_admin=True)
    await append(dev_app.pool, "deal.created")  # the sender claims once and learns there is none
    await asyncio.sleep(0.3)
    query_log.clear()
    for _ in range(3):
        await append(dev_app.pool, "deal.created")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert [q for q in query_log if "UPDATE webhooks SET lease_token" in q] == []
    receiver = Receiver()
    async with serve(receiver) as url:
        created = await create(admin, url, ["deal.*"])
        receiver.secret = created["secret"]
        last = await append(dev_app.pool, "deal.moved")
        await eventually(lambda: last in receiver.unique_sequences(), timeout=5)  # long before a poll
    off = (await admin(UPDATE, {"input": {"id": created["webhook"]["id"], "active": False}}))["updateWebhook"]
    assert off["webhook"]["active"] is False
    await asyncio.sleep(0.3)
    query_log.clear()
    await append(dev_app.pool, "deal.created")
    await asyncio.sleep(0.3)
    assert [q for q in query_log if "UPDATE webhooks SET lease_token" in q] == []
