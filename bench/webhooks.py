"""Webhooks: events/s delivered and commit-to-receipt delay, against the relay's own publishing.

One dealflow server (the real app, dev settings so it may call http://127.0.0.1) in a subprocess,
and one receiver process (a bare asyncio HTTP server answering 200 at once, noting when each
webhook-id first reached each path). In one run, for one endpoint and for `--receivers` endpoints:
`--events` events are committed to the outbox by 4 writers (one event per transaction, the
commit time noted), while one WebSocket subscriber (`boardChanged`, which sees every one of them)
stands for the relay. Reported per phase: events/s delivered to the receivers (all endpoints
together, first commit to last receipt) and p50/p99 delay from commit to receipt, and the same for
the subscriber; then the webhook figures as ratios of the subscriber's.

    .venv/bin/python bench/webhooks.py [--events 2000] [--receivers 20]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL. Results: printed, and written to bench/results/webhooks.json. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets
from common import (
    RESULTS_DIR,
    database_kind,
    fresh_database,
    machine,
    new_user,
    now_iso,
    percentiles,
    postgres_server,
    running,
    serve_uvicorn,
    write_results,
)
from websockets.typing import Subprotocol

RESULTS = RESULTS_DIR / "webhooks.json"
SCRIPT = Path(__file__).resolve()
WRITERS = 4
CREATE = """mutation($url: String!) { createWebhook(input: {url: $url, eventTypes: ["deal.updated"]}) {
  secret userErrors { message } } }"""
SUBSCRIPTION = "subscription($p: ID!, $a: String) { boardChanged(pipelineId: $p, after: $a) { sequence } }"


# ---------------------------------------------------------------------------------------------
# The processes: `webhooks.py --serve dealflow|receiver --dsn DSN --port PORT`


def serve_dealflow(dsn: str, port: int) -> None:
    from dealflow.app import create_app
    from dealflow.settings import Settings

    serve_uvicorn(create_app(Settings(env="dev", database_url=dsn), dsn), port)


def serve_receiver(port: int) -> None:
    """HTTP/1.1 keep-alive, 200 to everything; GET /_bench/received answers {path: {id: first time}}."""
    first: dict[str, dict[str, float]] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.time()
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                body = b"ok"
                if method == "GET" and path == "/_bench/received":
                    body = json.dumps(first).encode()
                elif "webhook-id" in headers:
                    first.setdefault(path, {}).setdefault(headers["webhook-id"], now)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# One phase


async def commit_events(dsn: str, count: int, pipeline_id: int) -> dict[int, float]:
    """`count` deal.updated events, one per transaction from WRITERS connections: sequence -> commit time."""
    from db import events as event_store
    from domain.events import NewEvent

    committed: dict[int, float] = {}
    per_writer = count // WRITERS

    async def writer() -> None:
        conn = await asyncpg.connect(dsn)
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        try:
            for i in range(per_writer):
                event = NewEvent(type="deal.updated", payload={"n": i}, pipeline_id=pipeline_id)
                async with conn.transaction():
                    sequence = await event_store.append(conn, [event])
                assert sequence is not None
                committed[sequence] = time.time()
        finally:
            await conn.close()

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    return committed


async def subscriber(
    url: str, token: str, pipeline_id: int, after: int, expected: int
) -> list[tuple[str, float]]:
    frames: list[tuple[str, float]] = []
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        variables = {"p": str(pipeline_id), "a": str(after)}
        await ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": variables}}
            )
        )
        while len(frames) < expected:
            frames.append((str(await ws.recv()), time.time()))
    return frames


def figures(committed: dict[int, float], received: dict[int, list[float]]) -> dict[str, Any]:
    delays = [(t - committed[s]) * 1000 for s, times in received.items() for t in times]
    last = max(t for times in received.values() for t in times)
    p50, p99 = percentiles(delays)
    return {
        "deliveries": len(delays),
        "per_second": round(len(delays) / (last - min(committed.values())), 1),
        "delay_p50_ms": round(p50, 1),
        "delay_p99_ms": round(p99, 1),
    }


async def phase(server: str, script: Path, logs: Path, events: int, receivers: int) -> dict[str, Any]:
    async with fresh_database(server) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            _, token = await new_user(conn, "admin@bench.example", "Admin", is_super_admin=True)
            pipeline_id: int = await conn.fetchval("SELECT min(id) FROM pipelines")
            head: int = await conn.fetchval("SELECT sequence FROM event_head")
        finally:
            await conn.close()
        async with (
            running(script, "dealflow", dsn, logs) as app,
            running(script, "receiver", dsn, logs) as receiver,
            httpx.AsyncClient(
                base_url=app.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
            ) as http,
        ):
            for i in range(receivers):
                answer = (
                    await http.post(
                        "/graphql", json={"query": CREATE, "variables": {"url": f"{receiver.url}/r{i}"}}
                    )
                ).json()
                assert answer["data"]["createWebhook"]["userErrors"] == [], answer
            expected = events // WRITERS * WRITERS
            listening = asyncio.create_task(subscriber(app.ws_url, token, pipeline_id, head, expected))
            await asyncio.sleep(0.5)
            committed = await commit_events(dsn, events, pipeline_id)
            frames = await asyncio.wait_for(listening, 300)
            deadline = time.monotonic() + 300
            async with httpx.AsyncClient(timeout=30) as plain:
                while True:
                    first: dict[str, dict[str, float]] = (
                        await plain.get(f"{receiver.url}/_bench/received")
                    ).json()
                    if (
                        sum(len(ids) for ids in first.values()) >= expected * receivers
                        or time.monotonic() > deadline
                    ):
                        break
                    await asyncio.sleep(0.2)
    relayed: dict[int, list[float]] = {}
    for text, at in frames:
        relayed.setdefault(int(json.loads(text)["payload"]["data"]["boardChanged"]["sequence"]), []).append(
            at
        )
    hooked: dict[int, list[float]] = {}
    for ids in first.values():
        for webhook_id, at in ids.items():
            hooked.setdefault(int(webhook_id.removeprefix("evt_")), []).append(at)
    relay, webhooks = figures(committed, relayed), figures(committed, hooked)
    return {
        "receivers": receivers,
        "events": expected,
        "complete": webhooks["deliveries"] == expected * receivers,
        "relay": relay,
        "webhooks": webhooks,
        "ratio_per_second": round(webhooks["per_second"] / relay["per_second"], 3),
        "ratio_delay_p50": round(webhooks["delay_p50_ms"] / relay["delay_p50_ms"], 2),
        "ratio_delay_p99": round(webhooks["delay_p99_ms"] / relay["delay_p99_ms"], 2),
    }


async def run(events: int, receivers: int) -> dict[str, Any]:
    with postgres_server() as server, tempfile.TemporaryDirectory() as folder:
        phases = [await phase(server, SCRIPT, Path(folder), events, n) for n in (1, receivers)]
    for p in phases:
        r, w = p["relay"], p["webhooks"]
        print(
            f"{p['receivers']:>2} receiver(s): webhooks {w['per_second']:,.0f} deliveries/s"
            f" (p50 {w['delay_p50_ms']} ms, p99 {w['delay_p99_ms']} ms); relay {r['per_second']:,.0f} events/s"
            f" (p50 {r['delay_p50_ms']} ms, p99 {r['delay_p99_ms']} ms); ratios {p['ratio_per_second']}"
            f" /s, {p['ratio_delay_p50']} p50, {p['ratio_delay_p99']} p99; complete: {p['complete']}"
        )
    return {"when": now_iso(), "machine": machine(), "database": database_kind(), "phases": phases}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--receivers", type=int, default=20)
    p.add_argument("--serve", choices=["dealflow", "receiver"], help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve == "dealflow":
        serve_dealflow(args.dsn, args.port)
        return 0
    if args.serve == "receiver":
        serve_receiver(args.port)
        return 0
    write_results(RESULTS, asyncio.run(run(args.events, args.receivers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
