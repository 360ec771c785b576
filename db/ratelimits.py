"""Rate-limit windows per API token: one statement charges a request and reads the window."""

from __future__ import annotations

from datetime import datetime

from .pool import Executor

# Charged only while the window has room; a refused charge reads the window as it stands.
CHARGE = """
WITH w AS (
    SELECT to_timestamp(floor(extract(epoch FROM now()) / $4::int) * $4::int) AS start
), charged AS (
    INSERT INTO rate_limits AS r (token_hash, window_start, used)
    SELECT $1, w.start, $2::int FROM w WHERE $2::int <= $3::int
    ON CONFLICT (token_hash) DO UPDATE
       SET window_start = EXCLUDED.window_start,
           used = CASE WHEN r.window_start = EXCLUDED.window_start
                       THEN r.used + EXCLUDED.used ELSE EXCLUDED.used END
     WHERE r.window_start <> EXCLUDED.window_start OR r.used + EXCLUDED.used <= $3::int
    RETURNING used, window_start
)
SELECT true AS granted, used, window_start FROM charged
UNION ALL
SELECT false, CASE WHEN r.window_start = w.start THEN r.used ELSE 0 END, w.start
  FROM w LEFT JOIN rate_limits r ON r.token_hash = $1
 WHERE NOT EXISTS (SELECT 1 FROM charged)
"""


async def charge(
    conn: Executor, token_hash: bytes, cost: int, limit: int, window_seconds: int
) -> tuple[bool, int, datetime]:
    """(granted, points used in the window, the window's start)."""
    row = await conn.fetchrow(CHARGE, token_hash, cost, limit, window_seconds)
    assert row is not None
    return row["granted"], row["used"], row["window_start"]
