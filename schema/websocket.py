"""The WebSocket handler: sessions bound to their token, and limits on messages and subscriptions."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from json import JSONDecodeError
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from domain.records import Viewer
from resolvers.context import Context

from .fanout import SharedFrameTransportWSHandler

MAX_MESSAGE_CHARS = 64 * 1024  # DESIGN 3 and 10: a message over this closes the socket
MESSAGE_TOO_BIG = 4413
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


class LimitedWebSocket(ASGIWebSocketAdapter):
    """strawberry's ASGI adapter, closing the socket (4413) on a message over MAX_MESSAGE_CHARS
    before it is parsed."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > MAX_MESSAGE_CHARS:
                    await self.ws.close(MESSAGE_TOO_BIG, f"Message over {MAX_MESSAGE_CHARS} characters.")
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as e:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from e
        except KeyError as e:
            raise NonTextMessageReceived from e
        except WebSocketDisconnect:
            pass


class SessionBinding:
    """Binds a WebSocket connection (either protocol) to a live session (subscriptions/sessions.py):
    the registry keeps the context's viewer current and closes the socket with 4403 when its token
    is revoked or expires or its user is deactivated. Messages are read through LimitedWebSocket."""

    context: Any
    websocket: Any
    view: Any
    connection_acknowledged: bool

    def __init__(self, view: Any, websocket: Any, *args: Any, **kwargs: Any) -> None:
        if type(websocket) is ASGIWebSocketAdapter:
            websocket = LimitedWebSocket(view, websocket.ws, websocket.ws)
        super().__init__(view, websocket, *args, **kwargs)  # type: ignore[call-arg]

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            context = self.context
            if isinstance(context, Context) and context.session is not None:
                registry = context.services.sessions
                if registry is not None:
                    registry.unregister(context.session)

    async def handle_connection_init(self, message: Any) -> None:
        registry = self.context.services.sessions if isinstance(self.context, Context) else None
        changes = registry.changes if registry is not None else 0
        await super().handle_connection_init(message)  # type: ignore[misc]
        context = self.context
        if not (self.connection_acknowledged and isinstance(context, Context)) or context.viewer is None:
            return
        if registry is not None and context.session is None:

            def update(viewer: Viewer) -> None:
                context.viewer = viewer

            context.session = await registry.register(context.viewer, self.websocket.close, update)
            if registry.changes != changes:  # a change may have landed between its read and now
                registry.schedule(context.session)

    async def refused(self, payload: Mapping[str, Any]) -> GraphQLError | None:
        """DESIGN 10: every operation started on the socket is charged to the token's rate limit,
        the same budget its HTTP requests draw on; the error when it is over budget."""
        budget = getattr(self.view, "over_budget", None)  # dealflow.app.DealflowGraphQL.over_budget
        if not self.connection_acknowledged or budget is None or not isinstance(self.context, Context):
            return None
        refusal: GraphQLError | None = await budget(self.context, payload)
        return refusal


class SessionLegacyWSHandler(SessionBinding, BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, bound to its session like graphql-transport-ws."""

    async def handle_start(self, message: StartMessage) -> None:
        refusal = await self.refused(message.get("payload") or {})
        if refusal is not None:
            await self.send_message({"type": "error", "id": message["id"], "payload": refusal.formatted})
            return
        await super().handle_start(message)


class SessionTransportWSHandler(SessionBinding, SharedFrameTransportWSHandler):
    """graphql-transport-ws bound to its session, sending shared frames. At most
    `max_subscriptions_per_connection` operations run at once; one more is refused with the code
    TOO_MANY_SUBSCRIPTIONS."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message.get("id") not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                f"At most {limit} subscriptions per connection.",
                extensions={"code": TOO_MANY_SUBSCRIPTIONS},
            )
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        refusal = await self.refused(message.get("payload") or {})
        if refusal is not None:
            await self.send_message({"id": message["id"], "type": "error", "payload": [refusal.formatted]})
            return
        await super().handle_subscribe(message)
