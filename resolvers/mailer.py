"""The email sender: drains the outbox over SMTP (aiosmtplib) when SMTP_URL is set, else to the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
import asyncpg

from db import emails as email_store
from domain.retry import MAX_ATTEMPTS, retry_delay
from subscriptions.waking import next_turn

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 20
SMTP_TIMEOUT = 10
LEASE_SECONDS = 2 * BATCH * SMTP_TIMEOUT  # a batch sent one by one, each within its timeout, fits twice
SENDER = "dealflow@localhost"
LOGGED_KEPT = 100  # emails "sent" to the log that a Mailer remembers, newest last
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


async def send_smtp(url: str, sender: str, to: str, subject: str, body: str) -> None:
    """One email over SMTP: `smtp://` plain, `smtp+starttls://` upgraded, `smtps://` TLS from the start;
    the user and password in the URL are percent-decoded (`p%40ss` is `p@ss`)."""
    parts = urlsplit(url)
    login = parts.username is not None and parts.password is not None  # a user alone is not a login
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    await aiosmtplib.send(
        message,
        hostname=parts.hostname or "localhost",
        port=parts.port or DEFAULT_PORTS.get(parts.scheme, 25),
        username=unquote(parts.username or "") if login else None,
        password=unquote(parts.password or "") if login else None,
        use_tls=parts.scheme == "smtps",
        start_tls=parts.scheme == "smtp+starttls",
        timeout=SMTP_TIMEOUT,
    )


class Mailer:
    """Leases due emails (db.emails.claim_due), so several processes never send one twice, and marks
    each sent right after its SMTP send (a crash between the two sends it again once its lease is
    free: at-least-once, the best SMTP allows); without SMTP, each lease's logged emails at once."""

    def __init__(self, pool: asyncpg.Pool, smtp_url: str | None, sender: str = SENDER) -> None:
        self.pool = pool
        self.smtp_url = smtp_url
        self.sender = sender
        # Without SMTP an email is written to the log and marked sent; the last few are kept here.
        self.sent_to_log: deque[tuple[str, str]] = deque(maxlen=LOGGED_KEPT)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mailer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await next_turn(self._wake, POLL_SECONDS)
            try:
                await self.drain_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                logger.warning("mailer could not reach the database; retrying", exc_info=True)
            except Exception:  # a sender that dies silently stops every email after it
                logger.exception("mailer failed; retrying")

    async def drain_once(self) -> int:
        """Send the due emails, BATCH leased at a time, each marked as soon as it is sent or has
        failed: one bad email fails alone, and a crash resends at most the one being sent. Written to
        the log instead (no SMTP), a lease's emails are marked sent together once all are logged (a
        crash logs them again)."""
        sent = 0
        async with self.pool.acquire() as conn:  # the session the leases name, held to the end
            while True:
                due = await email_store.claim_due(conn, BATCH, MAX_ATTEMPTS, LEASE_SECONDS)
                logged: list[int] = []  # written to the log, marked once the lease's are all written
                for email in due:
                    try:
                        await self._send(email.to_address, email.subject, email.body)
                    except Exception as exc:  # recorded on the row and retried with backoff
                        attempts = email.attempts + 1
                        await email_store.mark_failed(conn, email.id, repr(exc), retry_delay(attempts))
                        logger.warning(
                            "email %s to %s failed (attempt %s): %s",
                            email.id,
                            email.to_address,
                            attempts,
                            exc,
                        )
                    else:
                        if self.smtp_url:
                            await email_store.mark_sent(conn, [email.id])
                        else:
                            logged.append(email.id)
                    sent += 1
                await email_store.mark_sent(conn, logged)
                if len(due) < BATCH:  # a short claim took every due email: no empty claim to end on
                    return sent

    async def _send(self, to: str, subject: str, body: str) -> None:
        if self.smtp_url:
            await send_smtp(self.smtp_url, self.sender, to, subject, body)
        else:
            logger.info("email to %s: %s", to, subject)
            self.sent_to_log.append((to, subject))
