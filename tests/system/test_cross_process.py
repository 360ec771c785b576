"""Two `dealflow serve` processes on one database: a mutation on one reaches subscribers on the other."""

from __future__ import annotations

import asyncio

import pytest

from domain.records import Scope

from .clients import (
    BOARD_CHANGED,
    MOVE_DEAL,
    add_user,
    api,
    create_deal,
    event_head,
    first_pipeline,
    subscribed,
)
from .cluster import Cluster


@pytest.fixture(params=["memory", "postgres", "redis"])
def broadcast_url(request: pytest.FixtureRequest, database: str) -> str:
    if request.param == "memory":
        return "memory://"  # no broker: each process's relay reads the table itself
    if request.param == "postgres":
        return database  # LISTEN/NOTIFY on the application's own database
    url: str = request.getfixturevalue("redis_url")
    return url


async def test_a_mutation_on_one_process_reaches_subscribers_on_another_in_order_and_in_scope(
    cluster: Cluster, database: str, broadcast_url: str
) -> None:
    a = await cluster.start("a", broadcast_url)
    b = await cluster.start("b", broadcast_url)
    _, admin_token = await add_user(database, super_admin=True)
    mine_id, mine_token = await add_user(database, view_scope=Scope.OWNED)
    _, stranger_token = await add_user(database, view_scope=Scope.OWNED)
    async with api(a, admin_token) as admin:
        pipeline_id, stages = await first_pipeline(admin)
        after = {"p": pipeline_id, "a": str(await event_head(database))}
        async with (
            subscribed(b, mine_token, BOARD_CHANGED, after) as mine,
            subscribed(b, stranger_token, BOARD_CHANGED, after) as stranger,
        ):
            await asyncio.sleep(0.2)  # the subscriptions are live on b before anything commits
            loop = asyncio.get_running_loop()
            started = loop.time()
            deal = await create_deal(admin, pipeline_id, stages[0], owner_id=mine_id)
            got = [(await mine.next())["boardChanged"]]
            latencies = [loop.time() - started]
            for stage in (stages[1], stages[2], stages[0], stages[1]):
                started = loop.time()
                await admin(MOVE_DEAL, {"input": {"dealId": deal, "stageId": stage}})
                got.append((await mine.next())["boardChanged"])  # before the next mutation: live
                latencies.append(loop.time() - started)
            await create_deal(admin, pipeline_id, stages[0])  # the admin's own: out of their scope
            assert await mine.nothing_within(0.5)
            assert await stranger.nothing_within(0.1)
    assert [e["type"] for e in got] == ["deal.created", *["deal.moved"] * 4]
    assert {e["deal"]["id"] for e in got} == {deal}
    sequences = [int(e["sequence"]) for e in got]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5
    assert max(latencies) < 2.0, latencies  # mutation answered on a to event received on b
    print(f"\n{broadcast_url.split(':')[0]}: a->b latency max {max(latencies) * 1000:.0f} ms")
