"""Webhooks against a real receiver process that verifies every signature with `standardwebhooks`:
failures (5xx, timeouts, a closed port) and recovery, and a server killed with kill -9 mid-run."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from .clients import add_user, api, committed_sequences, create_deal, event_head, first_pipeline
from .cluster import Cluster, free_port, listening, spawn, stop

# http to 127.0.0.1 needs dev; retries come quickly and a timeout is 2 s so the test stays short.
WEBHOOK_ENV = {"DEALFLOW_ENV": "dev", "WEBHOOK_RETRY_BASE_SECONDS": "0.1", "WEBHOOK_TIMEOUT_SECONDS": "2"}
CREATE = """
mutation($url: String!) { createWebhook(input: {url: $url, eventTypes: ["deal.created"]}) {
  webhook { id } secret userErrors { code message } } }"""


class ReceiverProcess:
    """tests/webhook_receiver.py in its own process on a fixed port, so it can be stopped (a closed
    port) and started again there; what it verified is read back from its log."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.out = folder / "received.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def use_secret(self, secret: str) -> None:
        (self.folder / "secret").write_text(secret)

    async def start(self, mode: str = "ok") -> None:
        args = [sys.executable, "-m", "tests.webhook_receiver", "--port", str(self.port)]
        args += ["--secret-file", str(self.folder / "secret"), "--out", str(self.out), "--mode", mode]
        self.process = spawn(args, log=self.folder / "receiver.log")
        for _ in range(200):
            if listening(self.port):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    async def set_mode(self, mode: str) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(f"http://127.0.0.1:{self.port}/mode", content=mode)

    def lines(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def received(self) -> list[dict[str, Any]]:
        return [entry for entry in self.lines() if "rejected" not in entry]

    def rejected(self) -> int:
        return sum("rejected" in entry for entry in self.lines())

    def unique(self) -> list[int]:
        """Sequences after de-duplicating by webhook-id, in arrival order."""
        seen: dict[str, int] = {}
        for entry in self.received():
            seen.setdefault(entry["webhook_id"], int(entry["body"]["sequence"]))
        return list(seen.values())


async def deal_created_sequences(dsn: str, after: int) -> list[int]:
    return await committed_sequences(dsn, "type = 'deal.created' AND sequence > $1", after)


async def wait_for(receiver: ReceiverProcess, expected: list[int], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while receiver.unique() != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"received {receiver.unique()} of {expected}")
        await asyncio.sleep(0.1)


async def test_a_receiver_that_fails_for_a_while_gets_every_event_once_in_order(
    cluster: Cluster, database: str, tmp_path: Path
) -> None:
    server = await cluster.start("a", "memory://", WEBHOOK_ENV)
    _, token = await add_user(database, super_admin=True)
    receiver = ReceiverProcess(tmp_path)
    start = await event_head(database)
    async with api(server, token) as admin:
        created = (await admin(CREATE, {"url": receiver.url}))["createWebhook"]
        assert created["userErrors"] == []
        receiver.use_secret(created["secret"])
        await receiver.start()
        try:
            pipeline_id, stages = await first_pipeline(admin)
            for _ in range(5):
                await create_deal(admin, pipeline_id, stages[0])
            await receiver.set_mode("500")
            for _ in range(5):
                await create_deal(admin, pipeline_id, stages[0])
            await asyncio.sleep(1.0)
            await receiver.set_mode("sleep:3")  # longer than the sender's 2 s timeout
            await create_deal(admin, pipeline_id, stages[0])
            await asyncio.sleep(2.5)
            receiver.stop()  # a closed port
            for _ in range(5):
                await create_deal(admin, pipeline_id, stages[0])
            await asyncio.sleep(1.0)
            await receiver.start()
            expected = await deal_created_sequences(database, start)
            assert len(expected) == 16
            await wait_for(receiver, expected, timeout=60)
        finally:
            receiver.stop()
    assert receiver.rejected() == 0  # every signature verified
    assert await attempts_total(database) > 16  # the failures were real and retried


async def attempts_total(dsn: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval("SELECT coalesce(sum(attempts), 0) FROM webhook_deliveries")
    finally:
        await conn.close()
    return value


async def test_a_server_killed_mid_delivery_loses_no_event_and_the_other_goes_on_in_order(
    cluster: Cluster, database: str, tmp_path: Path
) -> None:
    a = await cluster.start("a", "memory://", WEBHOOK_ENV)
    _, token = await add_user(database, super_admin=True)
    receiver = ReceiverProcess(tmp_path)
    start = await event_head(database)
    async with api(a, token) as on_a:
        created = (await on_a(CREATE, {"url": receiver.url}))["createWebhook"]
        receiver.use_secret(created["secret"])
        await receiver.start(mode="sleep:0.3")  # slow enough that a delivery is in flight at the kill
        pipeline_id, stages = await first_pipeline(on_a)
        for _ in range(40):
            await create_deal(on_a, pipeline_id, stages[0])
    try:
        b = await cluster.start("b", "memory://", WEBHOOK_ENV)
        await asyncio.sleep(0.5)
        assert 0 < len(receiver.unique()) < 40, "a is delivering its backlog when it is killed"
        a.kill()  # kill -9 mid-delivery: its lease names a session that no longer exists
        await receiver.set_mode("ok")  # the rest of the backlog need not take 0.3 s an event
        async with api(b, token) as on_b:
            for _ in range(10):
                await create_deal(on_b, pipeline_id, stages[0])
        expected = await deal_created_sequences(database, start)
        assert len(expected) == 50
        await wait_for(receiver, expected, timeout=60)
    finally:
        receiver.stop()
    assert receiver.rejected() == 0
