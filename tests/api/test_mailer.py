"""The email sender against a real SMTP server (aiosmtpd, started here): From, credentials, retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from db import emails as email_store
from db.users import insert_user
from dealflow.settings import Settings
from resolvers.mailer import LOGGED_KEPT, Mailer

LOGIN, PASSWORD = "mailer@example.com", "p@ss:w/rd%"
URL_PASSWORD = "p%40ss%3Aw%2Frd%25"  # PASSWORD percent-encoded, as it must be written in SMTP_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        LOGIN.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def smtp_server(port: int, *, auth: bool) -> Controller:
    extra: dict[str, Any] = {"authenticator": check_login, "auth_require_tls": False}
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, **(extra if auth else {}))
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    port = free_port()
    controller = smtp_server(port, auth=True)
    try:
        yield port, controller.handler
    finally:
        controller.stop()


async def queue_email(pool: asyncpg.Pool, subject: str = "hello") -> None:
    async with pool.acquire() as conn, conn.transaction():
        user = await insert_user(conn, email="ada@example.com", name="Ada")
        await email_store.insert_emails(conn, [user.id], subject=subject, body="the body")


async def test_an_email_goes_over_smtp_from_smtp_from_with_percent_decoded_credentials(
    pool: asyncpg.Pool, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    await queue_email(pool)
    url = f"smtp://{LOGIN.replace('@', '%40')}:{URL_PASSWORD}@127.0.0.1:{port}"
    settings = Settings.from_env({"SMTP_URL": url, "SMTP_FROM": "Dealflow <noreply@example.com>"})
    mailer = Mailer(pool, settings.smtp_url, settings.smtp_from)
    assert await mailer.drain_once() == 1
    assert [(m["From"], m["To"], m["Subject"]) for m in inbox.messages] == [
        ("Dealflow <noreply@example.com>", "ada@example.com", "hello")
    ]
    assert "the body" in inbox.messages[0].get_payload()
    assert await pool.fetchval("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL") == 0


async def test_the_from_address_defaults_to_dealflow_at_localhost_not_the_smtp_host(
    pool: asyncpg.Pool,
) -> None:
    port = free_port()
    controller = smtp_server(port, auth=False)
    try:
        await queue_email(pool)
        settings = Settings.from_env({"SMTP_URL": f"smtp://relay@127.0.0.1:{port}"})
        assert await Mailer(pool, settings.smtp_url, settings.smtp_from).drain_once() == 1
        assert [m["From"] for m in controller.handler.messages] == ["dealflow@localhost"]
    finally:
        controller.stop()


async def test_wrong_smtp_credentials_leave_the_email_unsent_with_the_error(
    pool: asyncpg.Pool, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    await queue_email(pool)
    assert await Mailer(pool, f"smtp://{LOGIN}:wrong@127.0.0.1:{port}").drain_once() == 1
    row = await pool.fetchrow("SELECT attempts, sent_at, last_error FROM email_outbox")
    assert row is not None
    assert (row["attempts"], row["sent_at"]) == (1, None)
    assert "535" in row["last_error"]  # SMTP's authentication failed
    assert inbox.messages == []


async def test_a_failed_email_is_retried_later_with_backoff(pool: asyncpg.Pool) -> None:
    port = free_port()  # nothing listens there yet
    await queue_email(pool)
    mailer = Mailer(pool, f"smtp://127.0.0.1:{port}")
    assert await mailer.drain_once() == 1
    row = await pool.fetchrow(
        "SELECT attempts, sent_at, last_error, next_attempt_at > now() AS later FROM email_outbox"
    )
    assert row is not None
    assert (row["attempts"], row["sent_at"], row["later"]) == (1, None, True)
    assert row["last_error"]
    assert await mailer.drain_once() == 0  # not due yet
    controller = smtp_server(port, auth=False)
    try:
        await pool.execute("UPDATE email_outbox SET next_attempt_at = now()")
        assert await mailer.drain_once() == 1
        assert [m["Subject"] for m in controller.handler.messages] == ["hello"]
    finally:
        controller.stop()
    assert await pool.fetchval("SELECT sent_at IS NOT NULL FROM email_outbox") is True


async def test_without_smtp_emails_are_logged_marked_sent_and_not_kept_for_ever(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        user = await insert_user(conn, email="ada@example.com", name="Ada")
        for i in range(LOGGED_KEPT + 20):
            await email_store.insert_emails(conn, [user.id], subject=f"s{i}", body="b")
    mailer = Mailer(pool, None)
    with caplog.at_level("INFO", logger="resolvers.mailer"):
        while await mailer.drain_once():
            pass
    assert await pool.fetchval("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL") == 0
    assert sum("email to ada@example.com" in r.getMessage() for r in caplog.records) == LOGGED_KEPT + 20
    assert len(mailer.sent_to_log) == LOGGED_KEPT
    assert mailer.sent_to_log[-1] == ("ada@example.com", f"s{LOGGED_KEPT + 19}")


async def test_a_drain_sends_every_due_email_and_ends_without_an_empty_claim(
    query_log: list[str], pool: asyncpg.Pool
) -> None:
    await queue_email(pool, "one")
    mailer = Mailer(pool, None)
    query_log.clear()
    assert await mailer.drain_once() == 1
    claims = [q for q in query_log if "FROM email_outbox" in q]
    assert len(claims) == 1  # the email's own claim; it told that nothing else was due

    async with pool.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval("SELECT id FROM users WHERE email = 'ada@example.com'")
        for subject in ("two", "three", "four"):
            await email_store.insert_emails(conn, [user_id], subject=subject, body="b")
    query_log.clear()
    assert await mailer.drain_once() == 3
    assert len([q for q in query_log if "FROM email_outbox" in q]) == 1  # one lease for the three
    assert len(query_log) == 2  # the claim, and one mark for the three it logged: no BEGIN or COMMIT
    assert [s for _, s in mailer.sent_to_log] == ["one", "two", "three", "four"]
    assert await pool.fetchval("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL") == 0


async def test_over_smtp_each_email_is_marked_sent_right_after_its_send(
    query_log: list[str], pool: asyncpg.Pool, smtp: tuple[int, Inbox]
) -> None:
    """A crash between an SMTP send and its mark sends that one email again, never the ones before it."""
    port, inbox = smtp
    await queue_email(pool, "one")
    async with pool.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval("SELECT id FROM users WHERE email = 'ada@example.com'")
        for subject in ("two", "three"):
            await email_store.insert_emails(conn, [user_id], subject=subject, body="b")
    mailer = Mailer(pool, f"smtp://{LOGIN.replace('@', '%40')}:{URL_PASSWORD}@127.0.0.1:{port}")
    query_log.clear()
    assert await mailer.drain_once() == 3
    assert len(query_log) == 4  # the claim and a mark per email
    assert [m["Subject"] for m in inbox.messages] == ["one", "two", "three"]
    assert await pool.fetchval("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL") == 0


async def test_a_leased_email_is_left_alone_until_its_session_ends_or_its_lease_expires(
    pool: asyncpg.Pool, db_dsn: str
) -> None:
    """Leases, not row locks held across the SMTP send (migration 0017): another sender skips a
    leased email while the session that leased it lives, and takes it once it is gone or too late."""
    await queue_email(pool, "leased")
    mailer = Mailer(pool, None)
    other = await asyncpg.connect(db_dsn)
    try:
        assert [e.subject for e in await email_store.claim_due(other, 5, 5, lease_seconds=60)] == ["leased"]
        assert await mailer.drain_once() == 0
    finally:
        await other.close()
    assert await mailer.drain_once() == 1  # the session that held the lease ended: a process died

    async with pool.acquire() as conn:
        user_id = await conn.fetchval("SELECT id FROM users WHERE email = 'ada@example.com'")
        await email_store.insert_emails(conn, [user_id], subject="expired", body="b")
        assert len(await email_store.claim_due(conn, 5, 5, lease_seconds=60)) == 1
        assert await mailer.drain_once() == 0
        await conn.execute(
            "UPDATE email_outbox SET lease_until = now() - interval '1 s' WHERE sent_at IS NULL"
        )
        assert await mailer.drain_once() == 1
    assert [s for _, s in mailer.sent_to_log] == ["leased", "expired"]
