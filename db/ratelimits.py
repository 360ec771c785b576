"""Rate-limit windows per API token: one statement charges a request and reads the window."""

from __future__ import annotations

from datetime import datetime

from domain.records import Viewer

from .pool import Executor
from .users import VIEWER_SELECT, viewer_from_row

# Parameters throughout: $1 token hash, $2 cost, $3 limit (a refund: the window it was charged in),
# $4 window seconds. Every statement reads the window, which also makes its transaction commit without
# waiting for the WAL to reach the disk: a charge is soft state that every request writes before its
# own work (~180 µs a request on this machine's disk). A crash may forget the last charges of a window,
# and nothing else: the commit is visible at once, and the setting ends with the transaction (so these
# statements run on their own, on the pool, never inside a transaction that writes anything else).
WINDOW = """w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $4::int) * $4::int) AS start,
                  set_config('synchronous_commit', 'off', true) AS soft)"""


def _charged(only_if: str = "true") -> str:
    """The charge, made only while the window has room (and `only_if` holds)."""
    return f"""charged AS (
    INSERT INTO rate_limits AS r (token_hash, window_start, used)
    SELECT $1, w.start, $2::int FROM w WHERE $2::int <= $3::int AND {only_if}
    ON CONFLICT (token_hash) DO UPDATE
       SET window_start = EXCLUDED.window_start,
           used = CASE WHEN r.window_start = EXCLUDED.window_start
                       THEN r.used + EXCLUDED.used ELSE EXCLUDED.used END
     WHERE r.window_start <> EXCLUDED.window_start OR r.used + EXCLUDED.used <= $3::int
    RETURNING used, window_start)"""  # noqa: S608 (constant fragments)


# What the charge left, or a refused charge reads the window as it stands.
READING = """
SELECT true AS granted, used, window_start FROM charged
UNION ALL
SELECT false, CASE WHEN r.window_start = w.start THEN r.used ELSE 0 END, w.start
  FROM w LEFT JOIN rate_limits r ON r.token_hash = $1
 WHERE NOT EXISTS (SELECT 1 FROM charged)
"""
CHARGE = f"WITH {WINDOW}, {_charged()} {READING}"


async def charge(
    conn: Executor, token_hash: bytes, cost: int, limit: int, window_seconds: int
) -> tuple[bool, int, datetime]:
    """(granted, points used in the window, the window's start)."""
    row = await conn.fetchrow(CHARGE, token_hash, cost, limit, window_seconds)
    assert row is not None
    return row["granted"], row["used"], row["window_start"]


# The caller's viewer by token and, only when there is one, a charge to its window: what every
# request over HTTP does first, in one statement. No row: no such (live) token, nothing written.
AUTHENTICATE_AND_CHARGE = f"""
WITH v AS ({VIEWER_SELECT} AND t.token_hash = $1),
{WINDOW}, {_charged("EXISTS (SELECT 1 FROM v)")}, reading AS ({READING})
SELECT v.*, reading.granted, reading.used, reading.window_start FROM v, reading
"""  # noqa: S608 (constant fragments)


async def authenticate_and_charge(
    conn: Executor, token_hash: bytes, cost: int, limit: int, window_seconds: int
) -> tuple[Viewer, bool, int, datetime] | None:
    """(the viewer, granted, points used in the window, the window's start), or None for a token
    that does not authenticate (then nothing is charged)."""
    row = await conn.fetchrow(AUTHENTICATE_AND_CHARGE, token_hash, cost, limit, window_seconds)
    if row is None:
        return None
    return viewer_from_row(row), row["granted"], row["used"], row["window_start"]


REFUND = f"""
WITH {WINDOW}, back AS (
    UPDATE rate_limits r SET used = greatest(r.used - $2::int, 0)
     WHERE r.token_hash = $1 AND r.window_start = $3
    RETURNING used, window_start
)
SELECT CASE WHEN b.window_start = w.start THEN b.used ELSE 0 END AS used, w.start AS window_start FROM w, back b
UNION ALL
SELECT CASE WHEN r.window_start = w.start THEN r.used ELSE 0 END, w.start
  FROM w LEFT JOIN rate_limits r ON r.token_hash = $1
 WHERE NOT EXISTS (SELECT 1 FROM back)
"""  # noqa: S608 (constant fragments)


async def refund(
    conn: Executor, token_hash: bytes, cost: int, window_start: datetime, window_seconds: int
) -> tuple[int, datetime]:
    """Give back `cost` points charged in the window that starts at `window_start` (none once that
    window has passed); (points used in the current window, its start)."""
    row = await conn.fetchrow(REFUND, token_hash, cost, window_start, window_seconds)
    assert row is not None
    return row["used"], row["window_start"]
