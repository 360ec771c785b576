"""Fixtures: a migrated template database per session, a clone and a live server per test, and a
shared clone for tests that roll back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from db.pool import create_pool
from tests.harness import (
    TLS,
    Harness,
    ReusedDatabase,
    clone_database,
    create_template,
    drop_database,
    dsn_for,
    live_server,
    server_dsn,
    take_snapshot,
)


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    name = f"dealflow_tpl_{os.getpid()}"
    asyncio.run(create_template(name))
    yield name
    asyncio.run(drop_database(name))


@pytest.fixture(scope="session")
def reused_db(template_db: str) -> Iterator[ReusedDatabase]:
    snapshot = asyncio.run(take_snapshot(dsn_for(server_dsn(), template_db)))
    reused = ReusedDatabase(template_db, snapshot)
    yield reused
    asyncio.run(reused.drop())


@pytest.fixture
async def db_dsn(reused_db: ReusedDatabase) -> str:
    """A database in the state of a fresh clone of the template, the test's alone."""
    return await reused_db.fresh()


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def rollback_db(template_db: str) -> Iterator[str]:
    """One clone per process for the tests that roll back everything they do (`conn`)."""
    name = asyncio.run(clone_database(template_db))
    yield dsn_for(server_dsn(), name)
    asyncio.run(drop_database(name))


@pytest.fixture
async def conn(rollback_db: str, request: pytest.FixtureRequest) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction that is rolled back, on the process's shared clone: a clone per
    test cost ~0.4 s of PostgreSQL's CPU, this ~ms. Not for tests that also commit (`pool`, `app`)."""
    assert "db_dsn" not in request.fixturenames, "conn is on a shared clone: use pool or app alone"
    pool = await create_pool(rollback_db, min_size=1, max_size=1)
    try:
        async with pool.acquire() as c:
            tx = c.transaction()
            await tx.start()
            yield c  # type: ignore[misc]
            await tx.rollback()
    finally:
        await pool.close()


@pytest.fixture
async def app(pool: asyncpg.Pool, db_dsn: str) -> AsyncIterator[Harness]:
    async with (
        live_server(db_dsn) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10, verify=TLS) as http,
    ):
        yield Harness(pool=pool, server=server, http=http)


@pytest.fixture
def query_log() -> Iterator[list[str]]:
    """Every statement the app's pool runs; request it before `app` so new connections log."""
    from db.pool import QUERY_OBSERVERS

    log: list[str] = []
    QUERY_OBSERVERS.append(log.append)
    yield log
    QUERY_OBSERVERS.remove(log.append)
