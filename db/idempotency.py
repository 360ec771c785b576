"""Idempotency keys of create mutations: the same key repeated returns the first result (DESIGN 10)."""

from __future__ import annotations

from .pool import Conn


async def claim_key(conn: Conn, user_id: int, operation: str, key: str) -> int | None:
    """None if this call owns the key now; else the id the first call created (waits for it to commit)."""
    claimed = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (user_id, operation, key, result_id) VALUES ($1, $2, $3, 0)
        ON CONFLICT DO NOTHING RETURNING 1
        """,
        user_id,
        operation,
        key,
    )
    if claimed:
        return None
    result_id: int = await conn.fetchval(
        "SELECT result_id FROM idempotency_keys WHERE user_id = $1 AND operation = $2 AND key = $3",
        user_id,
        operation,
        key,
    )
    return result_id


async def record_key(conn: Conn, user_id: int, operation: str, key: str, result_id: int) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET result_id = $4 WHERE user_id = $1 AND operation = $2 AND key = $3",
        user_id,
        operation,
        key,
        result_id,
    )
