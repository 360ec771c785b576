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


def to_active_users(user_ids: str, subject: str, body: str) -> str:
    """The statement that queues an email to each active user of `user_ids` (SQL expressions: a
    bigint[] parameter, the subject's and the body's), on its own or inside another statement."""
    return f"""
        INSERT INTO email_outbox (user_id, to_address, subject, body)
        SELECT u.id, u.email, {subject}, {body} FROM users u WHERE u.id = ANY({user_ids}) AND u.active"""  # noqa: S608 (callers give placeholders)


async def insert_emails(conn: Conn, user_ids: Sequence[int], *, subject: str, body: str) -> None:
    if not user_ids:
        return
    await conn.execute(to_active_users("$1", "$2", "$3"), list(user_ids), subject, body)


async def claim_due(conn: Conn, limit: int, max_attempts: int, lease_seconds: float) -> list[Email]:
    """Lease due, unsent emails to this session, oldest first, so no other sender (in any process)
    takes them until the lease ends or this session does (migration 0017).

    An email that failed max_attempts times stays in the outbox with its last error, for a person."""
    rows = await conn.fetch(
        """
        UPDATE email_outbox SET lease_until = now() + make_interval(secs => $3), lease_pid = pg_backend_pid()
         WHERE id IN (
               SELECT e.id FROM email_outbox e
                WHERE e.sent_at IS NULL AND e.next_attempt_at <= now() AND e.attempts < $2
                  AND (e.lease_until IS NULL OR e.lease_until < now()
                       OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = e.lease_pid))
                ORDER BY e.id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, to_address, subject, body, attempts
        """,
        limit,
        max_attempts,
        lease_seconds,
    )
    return sorted((Email(**dict(r)) for r in rows), key=lambda e: e.id)


async def mark_sent(conn: Conn, email_ids: Sequence[int]) -> None:
    if not email_ids:
        return
    await conn.execute(
        """
        UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1, lease_until = NULL, lease_pid = NULL
         WHERE id = ANY($1)
        """,
        list(email_ids),
    )


async def mark_failed(conn: Conn, email_id: int, error: str, retry_in_seconds: float) -> None:
    await conn.execute(
        """
        UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
               next_attempt_at = now() + make_interval(secs => $3), lease_until = NULL, lease_pid = NULL
         WHERE id = $1
        """,
        email_id,
        error[:1000],
        retry_in_seconds,
    )
