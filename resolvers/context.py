"""The per-request context every resolver receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from strawberry.dataloader import DataLoader

from domain.records import Viewer
from resolvers.mailer import Mailer
from subscriptions.bus import EventBus
from subscriptions.relay import Relay
from subscriptions.sessions import Session, SessionRegistry

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Services:
    """Process-wide parts, built once in the app's lifespan."""

    pool: asyncpg.Pool
    bus: EventBus
    relay: Relay
    mailer: Mailer
    dev: bool = False
    app_url: str | None = None  # the front-end's base URL (APP_URL), for links such as Quote.approvalUrl
    sessions: SessionRegistry | None = None  # open WebSocket sessions (the server's; None elsewhere)
    # Live delivery's own connections (the relay, the bus, sessions, per-event executions), so an
    # event never waits for a connection behind the requests that fill `pool`; None: `pool`.
    live_pool: asyncpg.Pool | None = None


@dataclass
class Context:
    services: Services
    viewer: Viewer | None = None
    connection_params: dict[str, Any] | None = None
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)
    session: Session | None = None  # a WebSocket's, kept current by the session registry
    token_hash: bytes | None = None  # a WebSocket's token, whose rate limit its operations are charged to
    live: bool = False  # executing a subscription event: reads go through the live pool

    def for_event(self) -> Context:
        """A copy for one subscription event: the viewer as it is now and fresh, empty loaders, so an
        open socket never serves stale data nor grows a cache for its lifetime; its reads take the
        live pool's connections."""
        return Context(self.services, self.viewer, self.connection_params, {}, self.session, live=True)

    @property
    def pool(self) -> asyncpg.Pool:
        live = self.services.live_pool
        return live if self.live and live is not None else self.services.pool

    @property
    def me(self) -> Viewer:
        assert self.viewer is not None, "authenticated before execution"
        return self.viewer

    def loader(self, name: str, make: Callable[[], DataLoader[K, V]]) -> DataLoader[K, V]:
        found = self.loaders.get(name)
        if found is None:
            found = self.loaders[name] = make()
        return found

    def committed(self) -> None:
        """Tell the relay (and the mailer) a transaction with events has committed."""
        self.services.relay.wake()
        self.services.mailer.wake()
