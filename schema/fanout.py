"""Shared subscription fan-out: one execution and one encoded `next` payload per event and shape."""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution import ExperimentalIncrementalExecutionResults
from graphql.pyutils import AwaitableOrValue
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import MaskErrors
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from domain.events import StoredEvent
from domain.records import Scope
from resolvers.context import Context
from subscriptions.bus import HOLD_EXTENSION, Holder

from .events import Event
from .events import event_for as event_for_stored

SHARED_RESULTS = 1024  # (event, shape, viewer key) results kept; an event is fanned out within moments
ALL_VIEWERS = "ALL"

Outcome = ExecutionResult | ExperimentalIncrementalExecutionResults


@dataclass
class FanoutStats:
    """Counters for tests and benchmarks: how much per-event work was shared."""

    executions: int = 0  # per-event executions of a shareable (event, shape, viewer key)
    reused: int = 0  # deliveries served by another subscriber's execution
    frames_encoded: int = 0  # `next` payloads serialised
    frames_reused: int = 0  # `next` frames sent with an already serialised payload


STATS = FanoutStats()


@dataclass
class DirectStats:
    """Frames the bus wrote through a subscriber's sink, without a pass through strawberry."""

    frames: int = 0


DIRECT = DirectStats()


@dataclass(eq=False)
class _Shared:
    """A cached execution. Holds the objects whose ids make up its key, so no id is reused meanwhile."""

    event: Event
    schema: GraphQLSchema
    operation: OperationDefinitionNode
    result: ExecutionResult | None = None
    pending: asyncio.Future[ExecutionResult | None] | None = None


@dataclass(eq=False)
class _Payload:
    data: dict[str, Any]
    text: str | None = None


@dataclass
class _Lru:
    maxsize: int
    items: OrderedDict[Any, Any] = field(default_factory=OrderedDict)

    def get(self, key: Any) -> Any:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: Any, value: Any) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        if len(self.items) > self.maxsize:
            self.items.popitem(last=False)

    def discard(self, key: Any, value: Any) -> None:
        if self.items.get(key) is value:
            del self.items[key]


_encoded_id = functools.lru_cache(maxsize=4096, typed=True)(json.dumps)  # operation ids recur per event
_results = _Lru(SHARED_RESULTS)  # key -> _Shared
_payloads = _Lru(SHARED_RESULTS)  # id(result.data) -> _Payload


def viewer_key(context: object) -> object:
    """Who a result may be shared with: every ALL-scope viewer alike (nothing reachable from an Event
    depends on identity except through visibility, and ALL sees everything), else only the user as
    it sees now: with what domain.visibility reads of it (scope, teammates), so a result rendered
    before a session re-read its viewer (a narrowed scope, another team) is never reused after."""
    viewer = context.viewer if isinstance(context, Context) else None
    if viewer is None:
        return None
    scope = viewer.user.view_scope
    if scope is Scope.ALL:
        return ALL_VIEWERS
    return (viewer.id, scope, viewer.teammate_ids if scope is Scope.TEAM else frozenset())


class _Uses(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.variables: set[str] = set()
        self.fragments: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.variables.add(node.name.value)

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.fragments.add(node.name.value)


def result_variables(executor: StrawberryGraphQLCoreExecutionContext) -> frozenset[str] | None:
    """The variables a per-event result can depend on (None: all of them): all but the root field's
    own arguments (`pipelineId`, `after`…), which only choose the events, since strawberry resolves a
    subscription field to the event itself. So clients resuming from different `after`s still share."""
    selections = executor.operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    root = selections[0]
    uses = _Uses()
    todo: list[Node] = [*(root.directives or ()), *([root.selection_set] if root.selection_set else [])]
    seen: set[str] = set()
    while todo:
        visit(todo.pop(), uses)
        for name in uses.fragments - seen:
            seen.add(name)
            fragment = executor.fragment_definitions.get(name)
            if fragment is None:
                return None
            todo.append(fragment)
    return frozenset(uses.variables)


PERSONAL_FIELDS = frozenset({"apiTokens"})  # answered differently per viewer, whatever the scope


def _selects_personal_fields(executor: StrawberryGraphQLCoreExecutionContext) -> bool:
    uses = _Fields()
    visit(executor.operation, uses)
    for fragment in executor.fragment_definitions.values():
        visit(fragment, uses)
    return bool(uses.names & PERSONAL_FIELDS)


class _Fields(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: object) -> None:
        self.names.add(node.name.value)


def _variables_key(executor: StrawberryGraphQLCoreExecutionContext) -> str | None:
    wanted = result_variables(executor)
    raw = {
        name: s.value
        for name, s in executor.variable_values.sources.items()
        if s.value is not Undefined and (wanted is None or name in wanted)
    }
    try:
        return json.dumps(raw, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


class SharedEventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, whose per-event subscription executions are memoised across subscribers.

    graphql-core runs each subscription event through `build_per_event_executor(payload)` and then
    `execute_operation`; only those per-event copies carry a key, so queries and mutations run as
    before. Key: (the Event object, schema, parsed operation, canonical JSON of the variables the
    result can depend on, viewer key).
    Results with errors (and incremental ones) are never shared.
    """

    _fanout_scope: tuple[object, ...] | bool | None = False  # False: not computed yet
    _fanout_key: tuple[object, ...] | None = None
    _fanout_event: Event | None = None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        """graphql-core's constructor; a subscription's executor is also made known to its stream's
        resolver (running next, in this operation's task) for direct delivery: see `direct_sink`."""
        built = super().build(*args, **kwargs)
        if (
            isinstance(built, SharedEventExecutionContext)
            and built.operation.operation is OperationType.SUBSCRIPTION
        ):
            _subscribing.set(built)
        return built

    def build_per_event_executor(self, payload: Any) -> SharedEventExecutionContext:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, SharedEventExecutionContext)
        if isinstance(self.context_value, Context):  # the viewer as it is now, fresh loaders
            executor.context_value = self.context_value.for_event()
        if isinstance(payload, Event):
            if self._fanout_scope is False:
                self._fanout_scope = self._scope()
            who = viewer_key(executor.context_value)  # per event: a session's scope may change
            if isinstance(self._fanout_scope, tuple) and who is not None:
                executor._fanout_key = (id(payload), *self._fanout_scope, who)
                executor._fanout_event = payload
        return executor

    def _scope(self) -> tuple[object, ...] | None:
        variables = _variables_key(self)
        if variables is None or _selects_personal_fields(self):
            return None
        return (id(self.schema), id(self.operation), variables)

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Outcome]:
        key = self._fanout_key
        if key is None or self._fanout_event is None:
            return super().execute_operation(serially)
        entry: _Shared | None = _results.get(key)
        if entry is not None and entry.event is self._fanout_event and entry.operation is self.operation:
            if entry.result is not None:
                STATS.reused += 1
                return entry.result
            if entry.pending is not None:
                return self._follow(entry.pending, serially)
        STATS.executions += 1
        entry = _Shared(self._fanout_event, self.schema, self.operation)
        outcome = super().execute_operation(serially)
        if self.is_awaitable(outcome):
            entry.pending = asyncio.get_running_loop().create_future()
            _results.put(key, entry)
            return self._lead(outcome, entry, key)
        _keep(key, entry, outcome)  # type: ignore[arg-type]
        return outcome

    async def _lead(self, outcome: Awaitable[Outcome], entry: _Shared, key: tuple[object, ...]) -> Outcome:
        """Run the execution others wait for; whatever happens, wake them (None: run your own)."""
        pending = entry.pending
        assert pending is not None
        done: Outcome | None = None
        try:
            done = await outcome
        finally:
            pending.set_result(_keep(key, entry, done))
        return done

    async def _follow(
        self, pending: asyncio.Future[ExecutionResult | None], serially: bool | None
    ) -> Outcome:
        shared = await asyncio.shield(pending)  # cancelling this subscriber must not cancel the leader
        if shared is not None:
            STATS.reused += 1
            return shared
        STATS.executions += 1
        outcome = super().execute_operation(serially)  # the leader failed: no sharing, always correct
        if self.is_awaitable(outcome):
            return await outcome  # type: ignore[no-any-return]
        return outcome  # type: ignore[return-value]


def _keep(key: tuple[object, ...], entry: _Shared, outcome: Outcome | None) -> ExecutionResult | None:
    """Cache a clean result (and register its data for one-time encoding), else forget the entry."""
    if type(outcome) is not ExecutionResult or outcome.errors or outcome.data is None:
        _results.discard(key, entry)
        return None
    entry.result = outcome
    entry.pending = None
    _results.put(key, entry)
    _payloads.put(id(outcome.data), _Payload(outcome.data))
    return outcome


def shared_payload_json(data: object, encode: Any) -> str | None:
    """`{"data": data}` serialised once per shared result, or None when `data` is not shared."""
    found: _Payload | None = _payloads.get(id(data))
    if found is None or found.data is not data:
        return None
    if found.text is None:
        text = encode({"data": data})
        if not isinstance(text, str):
            return None
        found.text = text
        STATS.frames_encoded += 1
    else:
        STATS.frames_reused += 1
    return found.text


class FastMaskErrors(MaskErrors):
    """strawberry's MaskErrors without its runtime-Protocol isinstance (~6.6 µs) on each result it
    checks, which is every streamed subscription result, once per subscriber. Same behaviour."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


class SharedFrameTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, sending a shared result's `next` frame around its once-encoded payload.

    The frame is byte for byte what strawberry sends (`encode_json` of
    `{"id": …, "type": "next", "payload": {"data": …}}`, compact separators); anything else
    (errors, extensions, other messages, other adapters) goes through strawberry unchanged.
    Each operation runs knowing its handler, so its stream can write such frames itself
    (`direct_sink`).
    """

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        _running.set((self, operation))  # this operation's own task: no other operation sees it
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        if message["type"] == "next" and isinstance(self.websocket, ASGIWebSocketAdapter):
            payload = message["payload"]
            body = (
                shared_payload_json(payload.get("data"), self.view.encode_json) if len(payload) == 1 else None
            )
            if body is not None:
                frame = next_frame(message["id"], body)
                try:
                    await self.websocket.ws.send_text(frame)
                except WebSocketDisconnect as exc:
                    raise WebSocketDisconnected from exc
                return
        await super().send_message(message)


def next_frame(operation_id: str, body: str) -> str:
    return '{"id":' + _encoded_id(operation_id) + ',"type":"next","payload":' + body + "}"


# ---------------------------------------------------------------------------------------------
# Direct delivery: the bus writes an event's shared frame to each parked subscriber's socket

_running: ContextVar[tuple[SharedFrameTransportWSHandler, Operation[Context, None]] | None] = ContextVar(
    "fanout_running", default=None
)
_subscribing: ContextVar[SharedEventExecutionContext | None] = ContextVar("fanout_subscribing", default=None)


def direct_sink() -> DirectSink | None:
    """For the subscription stream being resolved now: a sink that writes its events' frames without
    passing each through strawberry, or None when only the general path may deliver them (another
    protocol or adapter, a result that is never shared, no executor of ours)."""
    running = _running.get()
    executor = _subscribing.get()
    if running is None or executor is None or not isinstance(running[0].websocket, ASGIWebSocketAdapter):
        return None
    handler, operation = running
    if executor.context_value is not handler.context:  # not this operation's executor
        return None
    if executor._fanout_scope is False:
        executor._fanout_scope = executor._scope()
    if not isinstance(executor._fanout_scope, tuple):
        return None
    return DirectSink(handler, operation, executor, executor._fanout_scope)


@dataclass(eq=False)
class DirectSink:
    """A subscription's way to its socket (subscriptions.bus.Sink). `render` runs the per-event
    execution graphql-core would run for this subscriber (shared as ever, by event, shape and viewer
    key) and gives the once-encoded payload of a clean result; anything else (errors, extensions,
    incremental results) is None and goes through strawberry. `write` sends the `next` frame
    strawberry would send, unless the operation has ended."""

    handler: SharedFrameTransportWSHandler
    operation: Operation[Context, None]
    executor: SharedEventExecutionContext
    shape: tuple[object, ...]
    to_payload: Callable[[StoredEvent], Event] = event_for_stored  # as the subscription resolvers do
    _grouped: tuple[object, Hashable | None] = (None, None)  # the last viewer asked about, its key

    def group(self) -> Hashable | None:
        viewer = getattr(self.executor.context_value, "viewer", None)
        if viewer is not None and viewer is self._grouped[0]:
            return self._grouped[1]  # the session's viewer unchanged since (a re-read makes a new one)
        who = viewer_key(self.executor.context_value)
        key = None if who is None else (*self.shape, who)
        self._grouped = (viewer, key)
        return key

    async def render(self, event: StoredEvent) -> _Rendered | None:
        per_event = self.executor.build_per_event_executor(self.to_payload(event))
        outcome = per_event.execute_operation(False)
        if per_event.is_awaitable(outcome):
            outcome = await outcome
        if type(outcome) is not ExecutionResult or outcome.errors or outcome.extensions:
            return None
        body = shared_payload_json(outcome.data, self.handler.view.encode_json)
        return None if body is None else _Rendered(body)

    def holder(self) -> Holder | None:
        """The socket's frame holder, when the server is dealflow's (dealflow/ws_protocol.py)."""
        return self._holder

    @functools.cached_property
    def _holder(self) -> Holder | None:
        adapter = self.handler.websocket
        if not isinstance(adapter, ASGIWebSocketAdapter):
            return None
        found: Holder | None = adapter.ws.scope.get("extensions", {}).get(HOLD_EXTENSION)
        return found

    def write(self, rendered: object) -> bool | Awaitable[None]:
        operation = self.operation
        if operation.completed or self.handler.operations.get(operation.id) is not operation:
            return True  # ended: nothing more is sent for it
        assert isinstance(rendered, _Rendered)
        holder = self._holder
        if holder is None or not holder.take(rendered.frame_bytes(operation.id)):
            # not dealflow's protocol, or a socket that cannot take it now (closing, or its buffer
            # full): through starlette, which waits for room or ends the operation
            adapter = self.handler.websocket
            assert isinstance(adapter, ASGIWebSocketAdapter)
            sent = send_now(adapter.ws.send_text(rendered.frame(operation.id)))
        else:
            sent = True
        if sent is not False:
            DIRECT.frames += 1
            if rendered.uses:  # served by the execution and encoding another subscriber's render did
                STATS.reused += 1
                STATS.frames_reused += 1
            rendered.uses += 1
        return sent


@dataclass(eq=False)
class _Rendered:
    body: str  # the encoded `{"data": …}` of the `next` payload
    uses: int = 0
    frames: dict[str, str] = field(default_factory=dict)  # by operation id: most clients use the same
    encoded: dict[str, bytes] = field(default_factory=dict)  # the frames as UTF-8, by operation id

    def frame(self, operation_id: str) -> str:
        found = self.frames.get(operation_id)
        if found is None:
            found = self.frames[operation_id] = next_frame(operation_id, self.body)
        return found

    def frame_bytes(self, operation_id: str) -> bytes:
        found = self.encoded.get(operation_id)
        if found is None:
            found = self.encoded[operation_id] = self.frame(operation_id).encode()
        return found


def send_now(sending: Coroutine[Any, Any, None]) -> bool | Awaitable[None]:
    """Run a send as far as it goes without waiting: True when done, False when it failed (the socket
    is closing: the general path meets the same and ends the operation), else a task finishing it
    from where it stopped (the socket's buffer is full), so one slow client never stalls the rest."""
    try:
        waiting = sending.send(None)
    except StopIteration:
        return True
    except (WebSocketDisconnect, RuntimeError, OSError):
        return False
    finishing = asyncio.ensure_future(_finish(sending, waiting))
    finishing.add_done_callback(lambda _: sending.close())  # cancelled before it ran: end the send too
    return finishing


async def _finish(sending: Coroutine[Any, Any, None], waiting: Any) -> None:
    await _Resumed(sending, waiting)


@dataclass
class _Resumed:
    """Awaiting this resumes a coroutine that already ran up to `waiting` (what it yielded)."""

    coroutine: Coroutine[Any, Any, None]
    waiting: Any

    def __await__(self) -> Generator[Any, Any, None]:
        waiting = self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # cancellation or an error from the loop: pass it in
                try:
                    waiting = self.coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = self.coroutine.send(sent)
                except StopIteration:
                    return
