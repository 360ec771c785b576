"""The asyncpg pool: JSON codecs and a statement timeout on every connection."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from asyncpg.connection import LoggedQuery
from asyncpg.pool import PoolConnectionProxy

# A connection from the pool or a plain one; `Executor` also admits the pool itself.
Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool

STATEMENT_TIMEOUT_MS = 15_000


# Observers of every statement any pool connection runs (tests count round trips with it).
QUERY_OBSERVERS: list[Callable[[str], None]] = []


def _observe(record: LoggedQuery) -> None:
    for observer in QUERY_OBSERVERS:
        observer(record.query)


# May be an integer beyond 64 bits, which orjson reads as a float: below -2**63 takes 19 digits.
_LONG_NUMBER = re.compile(r"\d{19}")


def decode_json(text: str) -> Any:
    """json.loads, exactly, faster: most records' properties are `{}`; orjson reads anything else
    (~4x json) unless it may hold an integer orjson would round or text it refuses."""
    if text == "{}":
        return {}
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def encode_json(value: Any) -> str:
    """json.dumps for PostgreSQL's json types, faster (~5x: the outbox payloads of an import's rows
    were 11% of its CPU); json.dumps for what orjson refuses (integers beyond 64 bits, subclasses)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


async def init_connection(conn: asyncpg.Connection) -> None:
    if QUERY_OBSERVERS:  # attached only when observed: logging costs a little on every statement
        conn.add_query_logger(_observe)
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=encode_json, decoder=decode_json, schema="pg_catalog")


class DealflowConnection(asyncpg.Connection):
    """Skips asyncpg's reset statement on every release: a round trip per request saved.

    Safe because nothing here sets session state (SET, LISTEN outside the relay's own
    connection, advisory locks or cursors); open transactions are still rolled back.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20, **kwargs: Any) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        connection_class=DealflowConnection,
        server_settings={
            "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            "application_name": "dealflow",
        },
        **kwargs,
    )
    assert pool is not None
    return pool
