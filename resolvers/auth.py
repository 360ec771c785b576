"""Who is calling: bearer tokens to viewers, and the super-admin guard."""

from __future__ import annotations

import asyncpg

from db import users as user_store
from domain.records import Viewer


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
    return await user_store.get_viewer_by_token(pool, token)
