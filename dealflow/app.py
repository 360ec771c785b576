"""The ASGI app: lifespan (pool, bus, relay), /graphql, /healthz and request limits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from broadcaster import Broadcast
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from db.migrate import apply_migrations
from db.pool import create_pool
from db.users import hash_token
from resolvers.auth import authenticate, bearer_token, touch
from resolvers.context import Context, Services
from resolvers.imports import ImportRunner
from resolvers.mailer import Mailer
from resolvers.retention import Horizons, Pruner
from resolvers.webhook_sender import SenderPolicy, WebhookSender
from schema import build_schema
from schema.websocket import SessionLegacyWSHandler, SessionTransportWSHandler
from subscriptions.backends import backend_for, is_shared
from subscriptions.bus import EventBus
from subscriptions.relay import Relay
from subscriptions.sessions import SessionRegistry

from .cors import add_cors
from .embedded_pg import database_url
from .graphiql import DEV_EMAIL, GRAPHIQL_HTML, dev_token, graphiql_address
from .quote_page import quote_page, sign_quote_page
from .ratelimit import OperationCosts, RateLimited, RateLimiter
from .responses import GRAPHQL_RESPONSE_JSON, JSON, error_response, is_request_error, negotiate
from .settings import Settings

logger = logging.getLogger(__name__)

UNAUTHENTICATED = "A valid API token is required: send 'Authorization: Bearer <token>'."
HTTP_ERROR_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class DealflowGraphQL(GraphQL[Context, None]):
    """Authenticates before anything is parsed (a request without a valid token reads nothing),
    charges the token's rate limit, and answers in the media type the client accepts."""

    graphql_transport_ws_handler_class = SessionTransportWSHandler  # live sessions, limits, shared frames
    graphql_ws_handler_class = SessionLegacyWSHandler  # live sessions and limits

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        schema = build_schema(dev=settings.dev)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.dev else None,
            allowed_origins=settings.allowed_origins,
            multipart_uploads_enabled=True,
            **kwargs,
        )
        self.settings = settings
        self.costs = OperationCosts(schema)
        self.limiter = RateLimiter(settings.rate_limit_points, settings.rate_limit_window_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        state = scope.setdefault("state", {})
        media_type = state["media_type"] = negotiate(request.headers.get("accept"))
        wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if not (wants_ide and self.graphql_ide and "query" not in request.query_params):
            services: Services = request.app.state.services
            await services.bus.admit()  # fan-out first: subscribers see what happened before this request
            token = bearer_token(request.headers.get("authorization"))
            token_hash = hash_token(token) if token else None
            found = await self.limiter.authenticate(services.pool, token_hash) if token_hash else None
            if found is None or token_hash is None:
                headers = {"WWW-Authenticate": "Bearer"}
                response = error_response(UNAUTHENTICATED, "UNAUTHENTICATED", 401, media_type, headers)
                await response(scope, receive, send)
                return
            state["viewer"], state["provisional"] = found
            state["token_hash"] = token_hash
            await touch(services.pool, found[0])
        try:
            async with asyncio.timeout(self.settings.request_timeout_seconds):
                response = await self.respond(request, media_type)
        except ClientDisconnect:
            return  # the client hung up mid-request: nobody to answer
        except TimeoutError:
            response = error_response("The request took too long.", "TIMEOUT", 504, media_type)
        except RecursionError:  # JSON nested deeper than the parser goes (DESIGN 3: never a bare 500)
            response = error_response("The request's JSON nests too deeply.", "BAD_JSON", 400, media_type)
        if "token_hash" in state:
            reading = state.get("reading") or await self.limiter.refund(  # nothing was executed
                request.app.state.services.pool, state["token_hash"], state["provisional"]
            )
            response.headers.update(reading.headers())
        await response(scope, receive, send)

    async def respond(self, request: Request, media_type: str) -> Response:
        try:
            response = await self.run(request)
        except HTTPException as e:
            code = HTTP_ERROR_CODES.get(e.status_code, "BAD_REQUEST")
            return error_response(e.reason, code, e.status_code, media_type)
        except RateLimited as e:
            retry = str(e.reading.retry_after(datetime.now(UTC)))
            return error_response(
                e.reading.refusal(), "RATE_LIMITED", 429, media_type, {"Retry-After": retry}
            )
        if response.headers.get("content-type", "").startswith(JSON):
            response.headers["content-type"] = media_type
            if media_type == GRAPHQL_RESPONSE_JSON and request.scope["state"].get("request_error"):
                response.status_code = 400
        return response

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        state = request.scope["state"]
        cost = self.costs.of(request_data.query, request_data.operation_name, request_data.variables)
        reading = state["reading"] = await self.limiter.settle(
            context.pool, state["token_hash"], state["provisional"], cost
        )
        if not reading.granted:
            raise RateLimited(reading)
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        state = request.scope["state"]
        if "reading" in state:
            body["extensions"] = {**(body.get("extensions") or {}), "cost": state["reading"].cost}
        if is_request_error(result):
            state["request_error"] = True
            if state["media_type"] == GRAPHQL_RESPONSE_JSON:
                body.pop("data", None)
        return body

    def encode_json(self, data: object) -> str:
        """Responses and WebSocket messages as compact JSON text, by orjson (~10x json.dumps on a board
        answer); what orjson refuses (integers beyond 64 bits, non-string keys) goes through json."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # orjson.JSONEncodeError
            return json.dumps(data, separators=(",", ":"))

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(GRAPHIQL_HTML)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        viewer = request.scope.get("state", {}).get("viewer") if isinstance(request, Request) else None
        return Context(services=services, viewer=viewer)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        header = header if isinstance(header, str) else None
        viewer = await authenticate(context.pool, header)
        token = bearer_token(header)
        if viewer is None or token is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer = viewer
        context.token_hash = hash_token(token)
        return None

    async def over_budget(self, context: Context, payload: Mapping[str, Any]) -> GraphQLError | None:
        """Charges an operation started on a WebSocket to its token, like a request over HTTP (one
        budget per token, whichever way it arrives); the refusal when it does not fit."""
        if context.token_hash is None:
            return None
        query, name, variables = payload.get("query"), payload.get("operationName"), payload.get("variables")
        cost = self.costs.of(
            query if isinstance(query, str) else None,
            name if isinstance(name, str) else None,
            variables if isinstance(variables, dict) else None,
        )
        reading = await self.limiter.charge(context.pool, context.token_hash, cost)
        if reading.granted:
            return None
        retry = reading.retry_after(datetime.now(UTC))
        return GraphQLError(
            reading.refusal(), extensions={"code": "RATE_LIMITED", "cost": cost, "retryAfter": retry}
        )


class BodyLimit:
    """Refuse request bodies over a limit with 413, whether announced or streamed. Multipart requests
    (an import's file, spooled to disk as it arrives) have their own, larger limit; their JSON parts
    stay under the parser's 1 MB per-field limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if multipart else self.max_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        body = {
            "errors": [
                {
                    "message": f"Request body over {limit} bytes.",
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


# Connections of live delivery (resolvers.context.Services.live_pool): the relay's LISTEN and drains,
# the bus's catch-up reads, session re-checks and the reads of per-event executions. Under a load that
# keeps every connection of the main pool busy, events had waited behind the requests for each of
# those, one event at a time: delivery fell 30-50 s behind (bench/load.py).
LIVE_POOL_SIZE = 6


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
        live_pool = await create_pool(dsn, min_size=2, max_size=LIVE_POOL_SIZE)  # the relay holds one
        stack.push_async_callback(live_pool.close)
        bus = EventBus(Broadcast(backend=backend_for(settings.broadcast_url)), live_pool)
        await bus.start()
        stack.push_async_callback(bus.stop)
        relay = Relay(live_pool, bus, shared=is_shared(settings.broadcast_url))
        await relay.start()
        stack.push_async_callback(relay.stop)
        mailer = Mailer(pool, settings.smtp_url, settings.smtp_from)
        await mailer.start()
        stack.push_async_callback(mailer.stop)
        sessions = SessionRegistry(live_pool, bus)
        await sessions.start()
        stack.push_async_callback(sessions.stop)
        services = Services(
            pool=pool,
            bus=bus,
            relay=relay,
            mailer=mailer,
            dev=settings.dev,
            sessions=sessions,
            app_url=settings.app_url,
            live_pool=live_pool,
        )
        imports = ImportRunner(services)
        await imports.start()
        stack.push_async_callback(imports.stop)
        await start_background(stack, pool, settings)
        yield services


async def start_background(stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, settings: Settings) -> None:
    """The webhook sender and the pruner, in every process; they share work through the database."""
    sender_policy = SenderPolicy(
        retry_base_seconds=settings.webhook_retry_base_seconds,
        give_up_seconds=settings.webhook_give_up_hours * 3600,
        total_seconds=settings.webhook_timeout_seconds,
    )
    sender = WebhookSender(pool, dev=settings.dev, sender_policy=sender_policy)
    await sender.start()
    stack.push_async_callback(sender.stop)
    horizons = Horizons(
        outbox_days=settings.outbox_horizon_days,
        notification_days=settings.notification_horizon_days,
        email_days=settings.email_horizon_days,
        interval_seconds=settings.prune_interval_seconds,
    )
    pruner = Pruner(pool, horizons)
    await pruner.start()
    stack.push_async_callback(pruner.stop)


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
            if settings.dev:
                address = graphiql_address(settings.host, settings.port, await dev_token(services.pool))
                logger.info("GraphiQL signed in as %s: %s", DEV_EMAIL, address)
            with serving_gc():
                yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/quotes/{token}", quote_page, methods=["GET"]),
            Route("/quotes/{token}/sign", sign_quote_page, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    if graphql.allowed_origins:
        add_cors(app, graphql.allowed_origins)
    return app
