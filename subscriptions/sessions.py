"""Live WebSocket sessions bound to their token: revocation, deactivation, expiry and scope changes
reach open sockets within a second, without a database read per event (DESIGN 2)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from db import records as record_store
from db import users as user_store
from domain.events import SESSION_CHANGED, StoredEvent
from domain.records import Viewer

from .bus import EventBus

logger = logging.getLogger(__name__)

APPROVAL_PREFIX = "approval."  # resolvers.approvals.APPROVAL_EVENT_PREFIX, below this layer
OPEN_APPROVAL = frozenset({"PENDING", "CHANGES_REQUESTED"})
EXPIRY_CHECK_SECONDS = 1.0
CLOSE_CODE = 4403
DbError = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

Closer = Callable[[int, str], Awaitable[None]]
Updater = Callable[[Viewer], None]


@dataclass(eq=False)
class Session:
    """One authenticated socket: its viewer as of the last check, and how to close it.

    `settled` is clear while a re-check is under way: streams wait on it before filtering the
    next event, so no event is matched against a scope that is known to be out of date."""

    viewer: Viewer
    close: Closer
    update: Updater
    closed: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    awaiting: set[int] = field(default_factory=set)  # deals whose open approval awaits this viewer

    def __post_init__(self) -> None:
        self.settled.set()

    @property
    def token_id(self) -> int | None:
        return self.viewer.token_id

    async def ready(self) -> bool:
        """Wait out a pending re-check; False once the session is closed."""
        if not self.settled.is_set():
            await self.settled.wait()
        return not self.closed


class SessionRegistry:
    """The open sessions of this process, by token and user. Each process hears `session.changed`
    events through the bus (before any listener), marks the affected sessions unsettled at once,
    re-reads their viewers in one query, then updates or closes them. Expiring tokens are checked
    every second. Per event the cost is one type comparison per process, whatever the sockets."""

    def __init__(self, pool: asyncpg.Pool, bus: EventBus) -> None:
        self.pool = pool
        self.bus = bus
        self.sessions: set[Session] = set()
        self._expiring: set[Session] = set()  # those whose token has an expiry: checked every second
        self._by_user: dict[int, set[Session]] = {}
        self._pending: set[Session] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.rechecks = 0  # viewer re-reads done (one query each), for tests and benchmarks
        self.changes = 0  # session.changed events heard

    async def start(self) -> None:
        self.bus.observers.append(self._observe)
        self._tasks = [
            asyncio.create_task(self._recheck_loop(), name="session-recheck"),
            asyncio.create_task(self._expiry_loop(), name="session-expiry"),
        ]

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.bus.observers.remove(self._observe)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def register(self, viewer: Viewer, close: Closer, update: Updater) -> Session:
        session = Session(viewer, close, update)
        self.sessions.add(session)
        self._track_expiry(session)
        self._by_user.setdefault(viewer.id, set()).add(session)
        if viewer.user.can_approve_deals:  # then kept current from approval events
            session.awaiting.update(await record_store.list_deals_awaiting(self.pool, viewer.id))
        return session

    def unregister(self, session: Session) -> None:
        session.closed = True
        session.settled.set()
        self.sessions.discard(session)
        self._expiring.discard(session)
        self._pending.discard(session)
        mine = self._by_user.get(session.viewer.id)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del self._by_user[session.viewer.id]

    def _observe(self, event: StoredEvent) -> None:
        if event.type.startswith(APPROVAL_PREFIX):
            self._track_approval(event)
            return
        if event.type != SESSION_CHANGED:
            return
        self.changes += 1
        users = set(event.payload.get("user_ids") or ())
        tokens = set(event.payload.get("token_ids") or ())
        for session in self.sessions:
            if session.viewer.id in users or session.token_id in tokens:
                session.settled.clear()
                self._pending.add(session)
        if self._pending:
            self._wake.set()

    def _track_approval(self, event: StoredEvent) -> None:
        """Keep each approver's open approvals current, so streams admit the deals awaiting them
        (DESIGN 2) without a query: an approval event names its approvers, deal and status."""
        snapshot = event.payload.get("approval") or {}
        deal_id = snapshot.get("deal_id")
        if deal_id is None:
            return
        is_open = snapshot.get("status") in OPEN_APPROVAL
        for approver in snapshot.get("approver_ids") or ():
            for session in self._by_user.get(approver, ()):
                if is_open:
                    session.awaiting.add(deal_id)
                else:
                    session.awaiting.discard(deal_id)

    def schedule(self, session: Session) -> None:
        """Re-read one session's viewer soon; its streams wait until then."""
        session.settled.clear()
        self._pending.add(session)
        self._wake.set()

    async def _recheck_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, set()
            try:
                await self.recheck(batch)
            except DbError:
                logger.warning("could not re-check %d sessions; retrying", len(batch), exc_info=True)
                self._pending |= batch
                await asyncio.sleep(0.2)
                self._wake.set()

    async def recheck(self, batch: set[Session]) -> None:
        token_ids = sorted({s.token_id for s in batch if s.token_id is not None})
        self.rechecks += 1
        found = {v.token_id: v for v in await user_store.list_viewers_by_token_ids(self.pool, token_ids)}
        for session in batch:
            viewer = found.get(session.token_id)
            if viewer is None:
                await self._close(session, "The token was revoked or expired, or the user deactivated.")
            else:
                session.viewer = viewer
                session.update(viewer)
                self._track_expiry(session)
                session.awaiting = (
                    set(await record_store.list_deals_awaiting(self.pool, viewer.id))
                    if viewer.user.can_approve_deals
                    else set()
                )
                if session not in self._pending:  # else a newer change is still to be read
                    session.settled.set()

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            now = datetime.now(UTC)
            for session in list(self._expiring):
                expires = session.viewer.token_expires_at
                if expires is not None and expires <= now:
                    await self._close(session, "The token expired.")

    def _track_expiry(self, session: Session) -> None:
        if session.viewer.token_expires_at is None:
            self._expiring.discard(session)
        elif not session.closed:
            self._expiring.add(session)

    async def _close(self, session: Session, reason: str) -> None:
        self.unregister(session)
        try:
            await session.close(CLOSE_CODE, reason)
        except Exception:  # a socket that is already gone needs no closing
            logger.debug("closing a session's socket failed", exc_info=True)
