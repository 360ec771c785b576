"""Redis killed and started again mid-stream: no committed event is lost or repeated."""

from __future__ import annotations

import asyncio

from .clients import Mutator, Watcher, add_user, api, board_events, create_deal, event_head, first_pipeline
from .cluster import Cluster, RedisServer


async def test_events_committed_while_redis_is_down_arrive_once_in_order_when_it_is_back(
    cluster: Cluster, database: str, own_redis: RedisServer
) -> None:
    a = await cluster.start("a", own_redis.url)
    b = await cluster.start("b", own_redis.url)
    _, token = await add_user(database, super_admin=True)
    async with api(a, token) as admin:
        pipeline_id, stages = await first_pipeline(admin)
        deals = [await create_deal(admin, pipeline_id, stages[0]) for _ in range(3)]
    start = await event_head(database)
    watchers = [Watcher([b], token, pipeline_id, start), Watcher([a], token, pipeline_id, start)]
    mutator = Mutator([a, b], token, deals, stages)
    for watcher in watchers:
        watcher.start()
    mutator.start()
    try:
        await asyncio.sleep(1.0)
        own_redis.kill()
        down_from = await event_head(database)
        await asyncio.sleep(1.5)  # mutations commit; nothing can be published
        down_until = await event_head(database)
        seen_while_down = [len(w.seen) for w in watchers]
        await own_redis.start()  # same port, empty: no subscriptions, no history
        await asyncio.sleep(1.5)
    finally:
        await mutator.stop()
    expected = await board_events(database, pipeline_id, start)
    try:
        for watcher in watchers:
            await watcher.wait_for(expected, timeout=15)
        await asyncio.sleep(0.5)
    finally:
        for watcher in watchers:
            await watcher.stop()
    assert down_until - down_from > 10  # enough committed while Redis was away to matter
    assert mutator.failed == 0  # mutations never depend on the broker
    for watcher, seen_then in zip(watchers, seen_while_down, strict=True):
        assert watcher.reconnects == 0  # the websocket stayed up; the server healed behind it
        assert watcher.seen == expected
        assert seen_then < len(expected)
    print(f"\n{len(expected)} events, {down_until - down_from} committed while Redis was down")
