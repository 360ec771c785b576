"""The email outbox: written with the change, claimed and sent by a background sender."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .pool import Conn


@dataclass(frozen=True, slots=True)
class Email:
    id: int
    to_address: str
    subject: str
    body: str
    attempts: int


async def insert_emails(conn: Conn, user_ids: Sequence[int], *, subject: str, body: str) -> None:
    if not user_ids:
        return
    await conn.execute(
        """
        INSERT INTO email_outbox (user_id, to_address, subject, body)
        SELECT u.id, u.email, $2, $3 FROM users u WHERE u.id = ANY($1) AND u.active
        """,
        list(user_ids),
        subject,
        body,
    )


async def claim_due(conn: Conn, limit: int, max_attempts: int) -> list[Email]:
    """Due, unsent emails, row-locked so no other sender (in any process) takes them.

    An email that failed max_attempts times stays in the outbox with its last error, for a person."""
    rows = await conn.fetch(
        """
        SELECT id, to_address, subject, body, attempts FROM email_outbox
         WHERE sent_at IS NULL AND next_attempt_at <= now() AND attempts < $2
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        limit,
        max_attempts,
    )
    return [Email(**dict(r)) for r in rows]


async def mark_sent(conn: Conn, email_id: int) -> None:
    await conn.execute(
        "UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1", email_id
    )


async def mark_failed(conn: Conn, email_id: int, error: str, retry_in_seconds: float) -> None:
    await conn.execute(
        """
        UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
               next_attempt_at = now() + make_interval(secs => $3)
         WHERE id = $1
        """,
        email_id,
        error[:1000],
        retry_in_seconds,
    )
