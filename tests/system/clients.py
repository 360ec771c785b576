"""Clients of the servers: users, GraphQL calls, and subscribers and mutators that fail over."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import websockets

from db import users as user_store
from domain.records import Scope
from tests.harness import Client, GraphQLErrors, WsClient, db_id

from .cluster import Server

BOARD_CHANGED = """
subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) { sequence type deal { id } } }
"""


async def add_user(dsn: str, *, super_admin: bool = False, view_scope: Scope = Scope.ALL) -> tuple[int, str]:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            user = await user_store.insert_user(
                conn,
                email=f"u-{uuid.uuid4().hex[:8]}@example.com",
                name="System Test",
                is_super_admin=super_admin,
                view_scope=view_scope,
                edit_scope=view_scope,
            )
            token = await user_store.insert_token(conn, user.id)
    finally:
        await conn.close()
    return user.id, token


@contextlib.asynccontextmanager
async def api(server: Server, token: str) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        yield Client(http, token)


@contextlib.asynccontextmanager
async def subscribed(
    server: Server, token: str, query: str, variables: dict[str, Any]
) -> AsyncIterator[WsClient]:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        ws = WsClient(socket)
        await ws.init(token)
        await ws.subscribe(query, variables)
        yield ws


@dataclass
class Watcher:
    """A boardChanged subscriber that reconnects, with `after`, to the next server when its
    connection dies; it records every event it is sent, duplicates included."""

    servers: list[Server]
    token: str
    pipeline_id: str
    after: int
    seen: list[int] = field(default_factory=list)
    reconnects: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        index = 0
        while True:
            server = self.servers[index % len(self.servers)]
            last = self.seen[-1] if self.seen else self.after
            try:
                variables = {"p": self.pipeline_id, "a": str(last)}
                async with subscribed(server, self.token, BOARD_CHANGED, variables) as ws:
                    while True:
                        event = (await ws.next(timeout=60))["boardChanged"]
                        self.seen.append(int(event["sequence"]))
            except (OSError, websockets.ConnectionClosed, GraphQLErrors, TimeoutError):
                self.reconnects += 1
                index += 1
                await asyncio.sleep(0.1)

    async def wait_for(self, sequences: list[int], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                if len(self.seen) >= len(sequences) and self.seen[-1] >= sequences[-1]:
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def board_events(dsn: str, pipeline_id: str, after: int) -> list[int]:
    """What the outbox committed for the board: the truth every watcher must match."""
    return await committed_sequences(
        dsn, "pipeline_id = $1 AND type LIKE 'deal.%' AND sequence > $2", db_id(pipeline_id), after
    )


async def committed_sequences(dsn: str, where: str, *args: object) -> list[int]:
    """Sequences of the committed events matching `where`, every one stamped first.

    An event commits with a provisional sequence and gets its place when a relay next stamps; the
    truth a test compares against must not depend on whether that poll has run yet.
    """
    conn = await asyncpg.connect(dsn)
    try:
        await conn.fetchval("SELECT stamp_events()")
        rows = await conn.fetch(f"SELECT sequence FROM events WHERE {where} ORDER BY sequence", *args)
    finally:
        await conn.close()
    return [r["sequence"] for r in rows]


CREATE_DEAL = """
mutation($input: CreateDealInput!) { createDeal(input: $input) { deal { id } userErrors { code message } } }
"""
MOVE_DEAL = """
mutation($input: MoveDealInput!) { moveDeal(input: $input) { deal { id } userErrors { code message } } }
"""


async def first_pipeline(admin: Client) -> tuple[str, list[str]]:
    data = await admin("{ pipelines { id stages { id kind } } }")
    pipeline = data["pipelines"][0]
    return pipeline["id"], [s["id"] for s in pipeline["stages"] if s["kind"] == "OPEN"]


async def create_deal(admin: Client, pipeline_id: str, stage_id: str, owner_id: int | None = None) -> str:
    extra = {"ownerId": str(owner_id)} if owner_id is not None else {}
    variables = {
        "input": {"name": "Deal", "amount": "100", "pipelineId": pipeline_id, "stageId": stage_id, **extra}
    }
    payload = (await admin(CREATE_DEAL, variables))["createDeal"]
    assert payload["userErrors"] == [], payload
    deal_id: str = payload["deal"]["id"]
    return deal_id


@dataclass
class Mutator:
    """Moves deals round the open stages through the first server that answers; when one
    fails (killed, database gone) it goes on with the next. Counts what it could not do."""

    servers: list[Server]
    token: str
    deal_ids: list[str]
    stage_ids: list[str]
    pause: float = 0.02
    done: int = 0
    failed: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        index, step = 0, 0
        while not self._stop.is_set():
            server = self.servers[index % len(self.servers)]
            deal = self.deal_ids[step % len(self.deal_ids)]
            stage = self.stage_ids[(step // len(self.deal_ids) + 1) % len(self.stage_ids)]
            try:
                async with api(server, self.token) as admin:
                    while not self._stop.is_set():
                        await admin(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stage}})
                        self.done += 1
                        step += 1
                        deal = self.deal_ids[step % len(self.deal_ids)]
                        stage = self.stage_ids[(step // len(self.deal_ids) + 1) % len(self.stage_ids)]
                        await asyncio.sleep(self.pause)
            except (httpx.HTTPError, GraphQLErrors, ValueError, KeyError):
                self.failed += 1
                index += 1
                step += 1
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def event_head(dsn: str) -> int:
    """The last sequence, with every event committed so far stamped (as the relays would soon)."""
    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval("SELECT stamp_events()")
    finally:
        await conn.close()
    return value


async def leader_holders(dsn: str) -> int:
    """How many sessions hold the relay's leader lock on this database."""
    from subscriptions.relay import LEADER_LOCK

    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            LEADER_LOCK & 0xFFFFFFFF,
        )
    finally:
        await conn.close()
    return count
