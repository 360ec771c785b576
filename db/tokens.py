"""Named API tokens: created with a secret shown once, listed without it, revoked, touched when used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from domain.records import ApiToken

from .errors import NotFound
from .pool import Conn, Executor
from .users import hash_token, new_token

TOKEN_COLUMNS = "t.id, t.user_id, t.name, t.created_at, t.last_used_at, t.expires_at, t.revoked_at"
TOUCH_EVERY = "1 minute"


def token_from_row(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


async def insert_api_token(
    conn: Conn, user_id: int, name: str, expires_at: datetime | None
) -> tuple[ApiToken, str]:
    secret = new_token()
    row = await conn.fetchrow(
        f"""
        INSERT INTO api_tokens AS t (user_id, token_hash, name, expires_at) VALUES ($1, $2, $3, $4)
        RETURNING {TOKEN_COLUMNS}
        """,  # noqa: S608 (a constant column list)
        user_id,
        hash_token(secret),
        name,
        expires_at,
    )
    assert row is not None
    return token_from_row(row), secret


async def list_tokens(conn: Executor, user_ids: Sequence[int]) -> list[ApiToken]:
    rows = await conn.fetch(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_id = ANY($1) ORDER BY t.user_id, t.id",  # noqa: S608
        list(user_ids),
    )
    return [token_from_row(r) for r in rows]


async def revoke_api_token(conn: Conn, token_id: int, owner_id: int | None) -> ApiToken:
    """Revoke a token (idempotent); `owner_id` limits it to that user's tokens (None: anyone's)."""
    row = await conn.fetchrow(
        f"""
        UPDATE api_tokens AS t SET revoked_at = coalesce(t.revoked_at, now())
         WHERE t.id = $1 AND ($2::bigint IS NULL OR t.user_id = $2)
        RETURNING {TOKEN_COLUMNS}
        """,  # noqa: S608 (a constant column list)
        token_id,
        owner_id,
    )
    if row is None:
        raise NotFound("API token", token_id)
    return token_from_row(row)


async def touch_token(conn: Executor, token_id: int) -> None:
    await conn.execute(
        f"""
        UPDATE api_tokens SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '{TOUCH_EVERY}')
        """,  # noqa: S608 (a constant interval)
        token_id,
    )


async def get_tokens(conn: Executor, ids: Sequence[int]) -> list[ApiToken]:
    rows = await conn.fetch(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = ANY($1)",  # noqa: S608
        list(ids),
    )
    return [token_from_row(r) for r in rows]
