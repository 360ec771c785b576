"""The webhook sender in every process: leases endpoints through the database, delivers each one's
matching events in sequence order, retries with backoff and jitter, gives up after 72 hours."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db import events as event_store
from db import webhooks as webhook_store
from domain import webhooks as policy
from domain.events import StoredEvent
from subscriptions.waking import next_turn

from .notifications import notify
from .webhook_transport import Outcome, Transport

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 100
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.2
DbError = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass
class Delivered:
    """Successes not yet recorded, and the cursor as last recorded."""

    recorded: int
    sequences: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)

    def add(self, event: StoredEvent, code: int) -> None:
        if not self.sequences:
            self.since = time.monotonic()
        self.sequences.append(event.sequence)
        self.types.append(event.type)
        self.codes.append(code)

    def clear(self) -> None:
        self.sequences, self.types, self.codes = [], [], []


class LeaseLost(Exception):
    """The endpoint was replayed or taken over: its new holder goes on from the cursor."""


@dataclass(frozen=True)
class SenderPolicy:
    retry_base_seconds: float = policy.RETRY_BASE_SECONDS
    give_up_seconds: float = policy.GIVE_UP_SECONDS
    total_seconds: float = 15.0
    concurrency: int = 32

    @property
    def lease_seconds(self) -> float:
        return self.total_seconds + 10.0


class WebhookSender:
    """One task per leased endpoint, at most `concurrency` at once. A lease names this process's
    held session (its backend pid), so when the process dies another takes the endpoint at once and
    sends again from the cursor: at-least-once, the same webhook-id each time."""

    def __init__(self, pool: asyncpg.Pool, *, dev: bool, sender_policy: SenderPolicy | None = None) -> None:
        self.pool = pool
        self.policy = sender_policy or SenderPolicy()
        self.transport = Transport(dev=dev, total_seconds=self.policy.total_seconds)
        self.delivered = 0
        self._serving: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: PoolConnectionProxy | None = None
        self._rng = random.Random()
        # Whether any endpoint is active (None: not known). While there is none, a wake-up claims
        # nothing: every stamp's NOTIFY would cost a statement for nothing. It is forgotten on the
        # NOTIFY of any change to which endpoints are active, and a poll always claims.
        self._endpoints: bool | None = None
        self._changes = 0  # NOTIFYs of such changes so far: an answer read across one is stale

    async def start(self) -> None:
        self._wake.set()  # claim at once: what was due when the process stopped, and LISTEN from now
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._serving.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()
        await self.transport.close()

    def wake(self) -> None:
        self._wake.set()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _on_change(self, *_: object) -> None:
        self._changes += 1
        self._endpoints = None
        self._wake.set()

    async def _hold(self) -> int:
        """The session that LISTENs for commits and whose pid marks this process's leases."""
        if self._conn is not None and self._conn.is_closed():
            await self._drop()
        if self._conn is None:
            self._conn = conn = await self.pool.acquire(timeout=5)
            await conn.add_listener(event_store.EVENTS_CHANNEL, self._on_notify)
            await conn.add_listener(webhook_store.CHANGES_CHANNEL, self._on_change)
            self._endpoints = None  # changes may have gone unheard while it did not listen
        return self._conn.get_server_pid()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*DbError):
                conn.terminate()
                await self.pool.release(conn)

    async def _run(self) -> None:
        while True:
            woken = await next_turn(self._wake, POLL_SECONDS)
            if woken and self._endpoints is False and self._conn is not None:
                continue  # no endpoint to serve; a change would have said otherwise
            try:
                await self.claim()
            except DbError:
                logger.warning("webhook sender could not reach the database; retrying", exc_info=True)
                await self._drop()
            except Exception:  # a sender that dies silently stops every delivery after it
                logger.exception("webhook sender failed; retrying")

    async def claim(self) -> int:
        """Lease due endpoints up to the free capacity and serve each in its own task."""
        free = self.policy.concurrency - len(self._serving)
        if free <= 0:
            return 0
        pid = await self._hold()
        token = uuid.uuid4()
        claimed = await webhook_store.claim_due(
            self.pool,
            limit=free,
            token=token,
            pid=pid,
            lease_seconds=self.policy.lease_seconds,
            serving=list(self._serving),
        )
        if claimed or self._serving:
            self._endpoints = True
        elif self._endpoints is None:
            changes = self._changes
            active = await webhook_store.any_active(self.pool)
            if changes == self._changes:
                self._endpoints = active
        for webhook in claimed:
            task = asyncio.create_task(self._serve(webhook, token), name=f"webhook-{webhook.id}")
            self._serving[webhook.id] = task
            task.add_done_callback(functools.partial(self._finished, webhook.id))
        return len(claimed)

    def _finished(self, webhook_id: int, _: asyncio.Task[None]) -> None:
        self._serving.pop(webhook_id, None)
        self._wake.set()  # capacity freed, or more events may have come meanwhile

    async def _serve(self, webhook: webhook_store.Webhook, token: uuid.UUID) -> None:
        try:
            retry_in = await self._deliver_pending(webhook, token)
            await webhook_store.release(self.pool, webhook.id, token, retry_at_seconds=retry_in)
        except LeaseLost:  # replayed (free the lease for the new cursor) or taken over (a no-op)
            logger.info("webhook %s: replayed or taken over; stopping here", webhook.id)
            await webhook_store.release(self.pool, webhook.id, token)
        except Exception:
            logger.exception("webhook %s: delivery failed; the lease will expire", webhook.id)

    async def _deliver_pending(self, webhook: webhook_store.Webhook, token: uuid.UUID) -> float:
        """Deliver in order until caught up (0) or a failure (its retry delay); stop if the lease is lost.

        Successes are recorded (cursor and delivery rows) every FLUSH_EVERY events or FLUSH_SECONDS,
        in one statement: a crash before that sends them again, with the same webhook-ids."""
        patterns = policy.like_patterns(webhook.event_types)
        cursor = webhook.cursor
        done = Delivered(recorded=cursor)
        while True:
            pending, head = await webhook_store.pending_events(self.pool, cursor, patterns, limit=BATCH)
            for event, created_at in pending:
                body = policy.event_body(event, created_at)
                outcome = await self.transport.post(webhook.url, webhook.secret, event.sequence, body)
                if outcome.status_code is not None and policy.success(outcome.status_code):
                    done.add(event, outcome.status_code)
                    if len(done.sequences) >= FLUSH_EVERY or time.monotonic() - done.since > FLUSH_SECONDS:
                        await self._flush(webhook, token, done)
                    cursor = event.sequence
                    continue
                await self._flush(webhook, token, done)
                return await self._failed(webhook, token, event, outcome)
            await self._flush(webhook, token, done)
            if len(pending) < BATCH:  # caught up: nothing else up to `head` matches
                if not await webhook_store.advance(
                    self.pool, webhook.id, token, done.recorded, head, self.policy.lease_seconds
                ):
                    raise LeaseLost
                return 0.0

    async def _flush(self, webhook: webhook_store.Webhook, token: uuid.UUID, done: Delivered) -> None:
        if not done.sequences:
            return
        if not await webhook_store.record_delivered(
            self.pool,
            webhook.id,
            token,
            done.recorded,
            done.sequences,
            done.types,
            done.codes,
            self.policy.lease_seconds,
        ):
            raise LeaseLost
        self.delivered += len(done.sequences)
        done.recorded = done.sequences[-1]
        done.clear()

    async def _failed(
        self, webhook: webhook_store.Webhook, token: uuid.UUID, event: StoredEvent, outcome: Outcome
    ) -> float:
        """Record a failed try; the seconds until the next, or 0 once the endpoint is marked failing."""
        error = outcome.error or f"HTTP {outcome.status_code}"
        async with self.pool.acquire() as conn, conn.transaction():
            delivery = await webhook_store.record_attempt(
                conn, webhook.id, event, status="PENDING", response_code=outcome.status_code, error=error
            )
            now = datetime.now(UTC)
            if policy.gives_up(delivery.first_attempt_at, now, self.policy.give_up_seconds):
                await webhook_store.schedule_retry(conn, delivery.id, status="FAILED", retry_in_seconds=None)
                if await webhook_store.mark_failing(conn, webhook.id, token):
                    await self._notify_failing(conn, webhook, event, error)
                logger.warning(
                    "webhook %s marked failing at sequence %s: %s", webhook.id, event.sequence, error
                )
                return 0.0
            delay = policy.retry_delay(delivery.attempts, self._rng.random(), self.policy.retry_base_seconds)
            await webhook_store.schedule_retry(conn, delivery.id, status="PENDING", retry_in_seconds=delay)
        logger.info(
            "webhook %s: sequence %s failed (%s); retry in %.1fs", webhook.id, event.sequence, error, delay
        )
        return delay

    async def _notify_failing(
        self, conn: PoolConnectionProxy, webhook: webhook_store.Webhook, event: StoredEvent, error: str
    ) -> None:
        admins = await webhook_store.list_super_admin_ids(conn)
        message = (
            f"Webhook {webhook.url} is failing: event {event.sequence} could not be delivered ({error}). "
            "Re-enable or replay it once the receiver is fixed."
        )
        await event_store.append(conn, await notify(conn, admins, kind="WEBHOOK_FAILING", message=message))
