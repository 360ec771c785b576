"""The ASGI app: lifespan (pool, bus, relay), /graphql, /healthz and request limits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from db.migrate import apply_migrations
from db.pool import create_pool
from resolvers.auth import authenticate
from resolvers.context import Context, Services
from resolvers.imports import ImportRunner
from resolvers.mailer import Mailer
from schema import build_schema
from schema.fanout import SharedFrameTransportWSHandler
from subscriptions.backends import backend_for, is_shared
from subscriptions.bus import EventBus
from subscriptions.relay import Relay

from .embedded_pg import database_url
from .quote_page import quote_page
from .settings import Settings

logger = logging.getLogger(__name__)

UNAUTHENTICATED_BODY = {
    "errors": [
        {
            "message": "A valid API token is required: send 'Authorization: Bearer <token>'.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}


class DealflowGraphQL(GraphQL[Context, None]):
    """Authenticates before anything is parsed: a request without a valid token reads nothing."""

    graphql_transport_ws_handler_class = SharedFrameTransportWSHandler  # one encoding per shared event

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            build_schema(dev=settings.dev),
            graphql_ide="graphiql" if settings.dev else None,
            allowed_origins=settings.allowed_origins,
            multipart_uploads_enabled=True,
            **kwargs,
        )
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if not (wants_ide and self.graphql_ide):
            services: Services = request.app.state.services
            viewer = await authenticate(services.pool, request.headers.get("authorization"))
            if viewer is None:
                response = JSONResponse(
                    UNAUTHENTICATED_BODY, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["viewer"] = viewer
        try:
            async with asyncio.timeout(self.settings.request_timeout_seconds):
                await super().__call__(scope, receive, send)
        except ClientDisconnect:
            return  # the client hung up mid-request: nobody to answer
        except TimeoutError:
            body = {"errors": [{"message": "The request took too long.", "extensions": {"code": "TIMEOUT"}}]}
            await JSONResponse(body, status_code=504)(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        viewer = request.scope.get("state", {}).get("viewer") if isinstance(request, Request) else None
        return Context(services=services, viewer=viewer)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        viewer = await authenticate(context.pool, header if isinstance(header, str) else None)
        if viewer is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer = viewer
        return None


class BodyLimit:
    """Refuse request bodies over a limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"Request body over {self.max_bytes} bytes.",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await services.pool.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@contextlib.asynccontextmanager
async def running_services(settings: Settings, dsn: str) -> AsyncIterator[Services]:
    async with contextlib.AsyncExitStack() as stack:
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        pool = await create_pool(dsn, max_size=settings.pool_max_size)
        stack.push_async_callback(pool.close)
        bus = EventBus(Broadcast(backend=backend_for(settings.broadcast_url)), pool)
        await bus.start()
        stack.push_async_callback(bus.stop)
        relay = Relay(pool, bus, shared=is_shared(settings.broadcast_url))
        await relay.start()
        stack.push_async_callback(relay.stop)
        mailer = Mailer(pool, settings.smtp_url, settings.smtp_from)
        await mailer.start()
        stack.push_async_callback(mailer.stop)
        services = Services(pool=pool, bus=bus, relay=relay, mailer=mailer, dev=settings.dev)
        imports = ImportRunner(services)
        await imports.start()
        stack.push_async_callback(imports.stop)
        yield services


@contextlib.contextmanager
def serving_gc() -> Iterator[None]:
    """GC policy for serving (bench/README: ~50% of server time in gc): start-up's objects frozen out
    of collections, gen-0 collected every 50,000 allocations; restored at shutdown."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def create_app(settings: Settings | None = None, dsn: str | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    graphql = DealflowGraphQL(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = dsn or database_url(settings.database_url, settings.data_dir)
        async with running_services(settings, url) as services:
            app.state.services = services
            with serving_gc():
                yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/quotes/{token}", quote_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
