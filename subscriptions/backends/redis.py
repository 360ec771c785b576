"""Redis pub/sub for broadcaster that reconnects and re-subscribes when Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from . import RESYNC

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
PUBLISH_TIMEOUT = 5.0
HEALTH_CHECK_SECONDS = 5
MAX_BACKOFF = 2.0


class RedisBackend(BroadcastBackend):
    """A supervisor task owns the subscribing connection: it subscribes, waits for Redis to
    confirm, hands the bus RESYNC, then reads until the connection fails, and starts again.

    Messages published while it is away are lost (Redis pub/sub is at-most-once); the
    outbox has them. `publish` raises ConnectionError while Redis is down, so the relay
    keeps its cursor and retries.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.channels: set[str] = set()
        self._published: asyncio.Queue[Event] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._publisher: Redis | None = None

    def _client(self, retries: int) -> Redis:
        # Our own retries only: redis-py reconnecting a PubSub silently would hide the gap.
        return Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), retries),
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=PUBLISH_TIMEOUT if retries else None,
            health_check_interval=HEALTH_CHECK_SECONDS,
        )

    async def connect(self) -> None:
        self._publisher = self._client(retries=1)  # one retry replaces a connection Redis dropped
        self._task = asyncio.create_task(self._supervise(), name="redis-backend")

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._publisher is not None:
            await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)
        self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)
        self._changed.set()

    async def publish(self, channel: str, message: Any) -> None:
        assert self._publisher is not None, "connect() first"
        try:
            await self._publisher.publish(channel, message)
        except (RedisError, OSError) as exc:
            raise ConnectionError(f"redis publish failed: {exc}") from exc

    async def next_published(self) -> Event:
        return await self._published.get()

    async def _supervise(self) -> None:
        backoff = 0.05
        while True:
            client = self._client(retries=0)
            pubsub = client.pubsub()
            try:
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                logger.warning("redis subscription lost (%s); reconnecting in %.2fs", exc, backoff)
            else:
                backoff = 0.05
                continue  # the channel set changed: subscribe anew
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _listen(self, pubsub: PubSub) -> None:
        self._changed.clear()
        channels = sorted(self.channels)
        if not channels:
            await self._changed.wait()
            return
        await pubsub.subscribe(*channels)
        pending = set(channels)
        while pending:  # subscribed only once Redis says so (broadcaster's own backend did not wait)
            reply = await pubsub.get_message(timeout=CONNECT_TIMEOUT)
            if reply is None:
                raise OSError("redis did not confirm the subscription")
            if reply["type"] == "subscribe":
                pending.discard(_text(reply["channel"]))
        for channel in channels:
            self._published.put_nowait(Event(channel, RESYNC))
        while not self._changed.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message["type"] == "message":
                self._published.put_nowait(Event(_text(message["channel"]), _text(message["data"])))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
