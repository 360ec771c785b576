"""PostgreSQL drops every connection of the servers: requests in flight fail cleanly, then all heals."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.harness import db_id

from .clients import (
    MOVE_DEAL,
    Watcher,
    add_user,
    api,
    board_events,
    create_deal,
    event_head,
    first_pipeline,
    leader_holders,
)
from .cluster import Cluster

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1
"""


async def test_servers_survive_their_database_connections_being_terminated(
    cluster: Cluster, database: str
) -> None:
    a = await cluster.start("a", database)  # LISTEN/NOTIFY on the same database: it drops too
    b = await cluster.start("b", database)
    _, token = await add_user(database, super_admin=True)
    async with api(a, token) as admin, api(b, token) as admin_b:
        pipeline_id, stages = await first_pipeline(admin)
        deal = await create_deal(admin, pipeline_id, stages[0])
        start = await event_head(database)
        watcher = Watcher([b], token, pipeline_id, start)
        watcher.start()
        await admin(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stages[1]}})
        await watcher.wait_for([start + 1])

        blocker = await asyncpg.connect(database)  # holds the deal's row: the move waits on it
        terminator = await asyncpg.connect(database)
        try:
            async with blocker.transaction():
                await blocker.execute("SELECT 1 FROM deals WHERE id = $1 FOR UPDATE", db_id(deal))
                in_flight = asyncio.create_task(
                    admin.raw(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stages[2]}})
                )
                await asyncio.sleep(0.5)
                assert not in_flight.done()
                killed = await terminator.fetchval(TERMINATE, blocker.get_server_pid())
                async with asyncio.timeout(5):  # fails cleanly, and promptly: no hang
                    body = await in_flight
        finally:
            await blocker.close()
            await terminator.close()
        assert killed >= 4  # both pools, both relays' held connections, both LISTENs
        assert body.get("errors") or admin.last_status >= 500, body
        assert "data" not in body or body["data"] in (None, {"moveDeal": None})

        loop = asyncio.get_running_loop()
        dropped_at = loop.time()
        failures = 0
        for server_client in (admin, admin_b):
            while True:  # the pools open new connections; the first requests may still fail
                try:
                    await server_client(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stages[0]}})
                    break
                except (httpx.HTTPError, AssertionError, ValueError):
                    failures += 1
                    assert loop.time() - dropped_at < 10, "the pool did not reconnect"
                    await asyncio.sleep(0.1)
        healed_after = loop.time() - dropped_at
        for stage in stages[1:4]:
            await admin(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stage}})
    expected = await board_events(database, pipeline_id, start)
    try:
        await watcher.wait_for(expected, timeout=10)  # b's LISTEN is back, and caught up
        await asyncio.sleep(0.3)
    finally:
        await watcher.stop()
    assert watcher.seen == expected
    assert watcher.reconnects == 0
    assert await leader_holders(database) == 1  # one relay took the lock again
    print(f"\nrequests succeed again {healed_after * 1000:.0f} ms after the drop ({failures} failed first)")
