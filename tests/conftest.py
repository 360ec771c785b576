"""Fixtures: a migrated template database per session, a clone and a live server per test."""

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
    clone_database,
    create_template,
    drop_database,
    dsn_for,
    live_server,
    server_dsn,
)


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    name = f"dealflow_tpl_{os.getpid()}"
    asyncio.run(create_template(name))
    yield name
    asyncio.run(drop_database(name))


@pytest.fixture
async def db_dsn(template_db: str) -> AsyncIterator[str]:
    name = await clone_database(template_db)
    yield dsn_for(server_dsn(), name)
    await drop_database(name)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as c:
        tx = c.transaction()
        await tx.start()
        yield c  # type: ignore[misc]
        await tx.rollback()


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
