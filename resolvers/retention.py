"""The pruner in every process: outbox events, delivered webhooks, read notifications and sent
emails past their horizons, in small batches so no statement holds locks for long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg

from db import retention

logger = logging.getLogger(__name__)

BATCH = 500
DAY = 86_400.0


@dataclass(frozen=True)
class Horizons:
    outbox_days: float = 30.0
    notification_days: float = 90.0
    email_days: float = 30.0
    interval_seconds: float = 300.0


class Pruner:
    def __init__(self, pool: asyncpg.Pool, horizons: Horizons) -> None:
        self.pool = pool
        self.horizons = horizons
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pruner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.horizons.interval_seconds)
            try:
                await self.prune()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                logger.warning("pruner could not reach the database; retrying", exc_info=True)
            except Exception:
                logger.exception("pruner failed; retrying")

    async def prune(self) -> dict[str, int]:
        """Prune every kind until a batch comes back short; return how many rows of each went."""
        h = self.horizons
        jobs = {
            "events": (retention.prune_events, h.outbox_days),
            "deliveries": (retention.prune_deliveries, h.outbox_days),
            "notifications": (retention.prune_read_notifications, h.notification_days),
            "emails": (retention.prune_sent_emails, h.email_days),
        }
        pruned: dict[str, int] = {}
        for name, (prune, days) in jobs.items():
            total = 0
            while True:
                count = await prune(self.pool, days * DAY, BATCH)
                total += count
                if count < BATCH:
                    break
                await asyncio.sleep(0)  # let requests in between batches
            pruned[name] = total
        return pruned
