"""Broadcaster backends that reconnect: chosen by BROADCAST_URL's scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from broadcaster._backends.base import BroadcastBackend

# What a backend hands the bus after it has (re)subscribed: messages published while it was
# away are lost, so the bus catches up from the outbox table.
RESYNC = '{"resync": true}'

POSTGRES_SCHEMES = ("postgres", "postgresql")
REDIS_SCHEMES = ("redis", "rediss")


def backend_for(url: str) -> BroadcastBackend:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from broadcaster._backends.memory import MemoryBackend

        return MemoryBackend(url)
    if scheme in POSTGRES_SCHEMES:
        from .postgres import PostgresBackend

        return PostgresBackend(url)
    if scheme in REDIS_SCHEMES:
        from .redis import RedisBackend

        return RedisBackend(url)
    raise ValueError(f"BROADCAST_URL: unsupported scheme {scheme!r} (memory://, postgres://, redis://)")


def is_shared(url: str) -> bool:
    """Whether every process hears what one publishes (then a single relay publishes)."""
    return urlsplit(url).scheme in POSTGRES_SCHEMES + REDIS_SCHEMES
