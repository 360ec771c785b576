"""kill -9 of a server while clients mutate and subscribe: every committed event is seen once."""

from __future__ import annotations

import asyncio

import pytest

from .clients import (
    Mutator,
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

LEADS = "relay leads"


@pytest.fixture(params=["postgres", "redis"])
def broadcast_url(request: pytest.FixtureRequest, database: str) -> str:
    if request.param == "postgres":
        return database
    url: str = request.getfixturevalue("redis_url")
    return url


async def test_clients_of_a_killed_server_resume_on_the_other_and_see_every_event_exactly_once(
    cluster: Cluster, database: str, broadcast_url: str
) -> None:
    a = await cluster.start("a", broadcast_url)
    b = await cluster.start("b", broadcast_url)
    assert LEADS in a.log_text() and LEADS not in b.log_text()  # a publishes for both
    assert await leader_holders(database) == 1
    _, token = await add_user(database, super_admin=True)
    async with api(a, token) as admin:
        pipeline_id, stages = await first_pipeline(admin)
        deals = [await create_deal(admin, pipeline_id, stages[0]) for _ in range(4)]
    start = await event_head(database)
    watchers = [Watcher([a, b], token, pipeline_id, start), Watcher([b, a], token, pipeline_id, start)]
    mutators = [Mutator([a, b], token, deals[:2], stages), Mutator([b, a], token, deals[2:], stages)]
    for watcher in watchers:
        watcher.start()
    for mutator in mutators:
        mutator.start()
    try:
        await asyncio.sleep(1.5)
        a.kill()  # the leader, with a watcher and a mutator connected to it
        before_kill = sum(m.done for m in mutators)
        await asyncio.sleep(2.5)
        after_kill = sum(m.done for m in mutators) - before_kill
    finally:
        for mutator in mutators:
            await mutator.stop()
    expected = await board_events(database, pipeline_id, start)
    try:
        for watcher in watchers:
            await watcher.wait_for(expected)
        await asyncio.sleep(0.5)  # time for a late duplicate to show itself
    finally:
        for watcher in watchers:
            await watcher.stop()
    assert before_kill > 10 and after_kill > 10, (before_kill, after_kill)
    assert watchers[0].reconnects >= 1  # its server died; it resumed on b with `after`
    assert LEADS in b.log_text()  # b took over publishing
    for watcher in watchers:
        assert watcher.seen == expected  # every committed event, once, in order
    print(
        f"\n{broadcast_url.split(':')[0]}: {len(expected)} events, {before_kill} moves before and"
        f" {after_kill} after the kill, {mutators[0].failed} failed calls on the killed server"
    )
