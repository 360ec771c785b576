"""Fixtures for tests over real processes: a database per test, servers, Redis."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness import clone_database, drop_database, dsn_for, server_dsn

from .cluster import Cluster, RedisServer, listening

MACHINE_REDIS = 6379
NO_REDIS = "no Redis: redis-server is not on PATH and nothing listens on 127.0.0.1:6379"


@pytest.fixture
async def database(template_db: str) -> AsyncIterator[str]:
    name = await clone_database(template_db)
    yield dsn_for(server_dsn(), name)
    await drop_database(name)


@pytest.fixture
def cluster(database: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(database, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server this test may kill and start again."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH: cannot restart a Redis of our own")
    redis = RedisServer(tmp_path)
    await redis.start()
    yield redis
    redis.kill()


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """The machine's Redis, else one started here. Channels are per database, so runs sharing
    one Redis do not hear each other."""
    if listening(MACHINE_REDIS):
        yield f"redis://127.0.0.1:{MACHINE_REDIS}/0"
        return
    if shutil.which("redis-server") is None:
        pytest.skip(NO_REDIS)
    redis = RedisServer(tmp_path)
    await redis.start()
    yield redis.url
    redis.kill()
