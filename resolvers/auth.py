"""Who is calling: bearer tokens to viewers, and the super-admin guard."""

from __future__ import annotations

import time

import asyncpg

from db import tokens as token_store
from db import users as user_store
from domain.records import Viewer

TOUCH_SECONDS = 60.0  # lastUsedAt is written at most once a minute per token and process
TOUCHED_KEPT = 10_000

POOLS_KEPT = 8
# Per pool (token ids are its database's own); the pool is held so its id is not reused meanwhile.
_touched: dict[int, tuple[asyncpg.Pool, dict[int, float]]] = {}


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(pool: asyncpg.Pool, authorization: str | None) -> Viewer | None:
    token = bearer_token(authorization)
    if token is None:
        return None
    viewer = await user_store.get_viewer_by_token(pool, token)
    if viewer is not None:
        await touch(pool, viewer)
    return viewer


async def touch(pool: asyncpg.Pool, viewer: Viewer) -> None:
    """Record the use of the viewer's token, cheaply: one UPDATE per token and minute in this
    process, and the statement itself skips a row touched within the minute by another process."""
    token_id = viewer.token_id
    if token_id is None:
        return
    now = time.monotonic()
    if id(pool) not in _touched and len(_touched) >= POOLS_KEPT:
        _touched.clear()
    touched = _touched.setdefault(id(pool), (pool, {}))[1]
    if now - touched.get(token_id, -TOUCH_SECONDS) < TOUCH_SECONDS:
        return
    if len(touched) >= TOUCHED_KEPT:
        touched.clear()
    touched[token_id] = now
    await token_store.touch_token(pool, token_id)
