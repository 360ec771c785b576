"""One process-wide subscription to the broker, fanned out to local listeners."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from broadcaster import Broadcast

from db import events as event_store
from domain.events import StoredEvent

if TYPE_CHECKING:
    from .sessions import Session

logger = logging.getLogger(__name__)

CHANNEL = "dealflow.events"
QUEUE_LIMIT = 10_000
BATCH = 1000
MAX_CHANNEL = 63  # PostgreSQL truncates identifiers (LISTEN channels) longer than this
MAX_BACKOFF = 2.0


def channel_for(database: str) -> str:
    """One channel per database, so deployments sharing a Redis never hear each other."""
    name = f"{CHANNEL}.{database}"
    if len(name.encode()) <= MAX_CHANNEL:
        return name
    return f"{CHANNEL}.{hashlib.sha256(database.encode()).hexdigest()[:32]}"


Match = Callable[[StoredEvent], bool]


@dataclass(frozen=True, slots=True)
class Interest:
    """What a listener watches, so that an event wakes only the listeners it may concern: a family
    of event types (`deal.`: the text up to and including the type's first dot) and optionally one
    axis of it (`pipeline_id`, `deal_id`, `record`: the payload's record id, or `audience`) and its
    value. It only narrows whom the bus considers; each listener's own match still decides."""

    family: str
    axis: str | None = None
    value: object = None

    def __post_init__(self) -> None:
        if not self.family.endswith(".") or self.family.count(".") != 1:
            raise ValueError(f"an event family is a type's first segment and its dot, not {self.family!r}")
        if (self.axis is None) != (self.value is None) or (self.axis is not None and self.axis not in AXES):
            raise ValueError(f"an interest watches a whole family or one of {sorted(AXES)} with a value")


def family_of(event_type: str) -> str:
    return event_type[: event_type.find(".") + 1]


def _record_id(event: StoredEvent) -> tuple[object, ...]:
    record = event.payload.get("record")
    return (record.get("id"),) if isinstance(record, dict) else ()


AXES: dict[str, Callable[[StoredEvent], Iterable[object]]] = {  # the values an event has on each axis
    "pipeline_id": lambda e: (e.pipeline_id,),
    "deal_id": lambda e: (e.deal_id,),
    "record": _record_id,
    "audience": lambda e: e.audience,
}


HOLD_EXTENSION = "dealflow.hold"  # ASGI scope extension: the socket's Holder (dealflow/ws_protocol.py)
HOLD_EVENTS = 32  # events fanned out at most while sockets hold their frames (latency, memory)
# Fan-out before new work: while more events than this wait for direct delivery in this process, a
# request waits to start (`EventBus.admit`), at most ADMIT_WAIT_SECONDS, so live subscribers see a
# change the moment it is made even when requests keep every core busy (bench/load.py).
ADMIT_BACKLOG = 8
ADMIT_WAIT_SECONDS = 2.0


class Holder(Protocol):
    """A socket that can hold the frames sent to it and write them together when released: a
    write to a socket costs about as much as everything else a delivery does (~24 µs of CPU on
    loopback), so a burst of events reaches each socket in one write instead of one per event.
    Holds nest; the socket writes when the last is released."""

    def hold(self) -> None: ...

    def release(self) -> None: ...

    def take(self, text_frame: bytes) -> bool:
        """Send a text message now (held or written) if the socket can take it at once."""
        ...


class Sink(Protocol):
    """Delivers a listener's events without waking its consumer (schema/fanout.py: the already
    encoded frame written to the socket). Listeners whose sinks give the same `group` share one
    `render` per event; a sink that cannot take an event leaves it to the consumer."""

    def group(self) -> Hashable | None:
        """Whom this listener's rendering can be shared with now; None: not now."""

    async def render(self, event: StoredEvent) -> object | None:
        """The event as the group's listeners receive it; None: left to each consumer."""

    def write(self, rendered: object) -> bool | Awaitable[None]:
        """Send it: True when sent (or no longer wanted), False when it could not be, an awaitable
        when sending waits (the consumer takes over once it is done)."""

    def holder(self) -> Holder | None:
        """The socket's Holder (one for every subscription on it), if it has one."""


class Verdict(enum.Enum):
    DELIVER = "deliver"
    SKIP = "skip"
    WAIT = "wait"  # the session's viewer is being re-read: decide once it is current


def decide(event: StoredEvent, match: Match, session: Session | None) -> Verdict:
    """Whether a listener receives an event: never on a closed session, not before a pending re-check
    of its viewer (so `match` reads the scope as it is now), then as `match` says (DESIGN 2 and 9).
    Both paths ask this: the consumer of the queue, and the bus writing to a sink directly."""
    if session is not None:
        if session.closed:
            return Verdict.SKIP
        if not session.settled.is_set():
            return Verdict.WAIT
    return Verdict.DELIVER if match(event) else Verdict.SKIP


class Listener:
    """A subscriber's queue. When it overflows the listener is marked lagging and must
    fall back to the outbox table, so a slow client never loses events or stalls others.

    With a sink, a listener whose queue is empty may `park`: its consumer sleeps and the bus
    delivers its events through the sink, in order, until one needs the consumer (a viewer being
    re-read, a result not to be shared, a socket that cannot take more, a hole in the sequence):
    then that event goes to the queue and the consumer wakes and carries on from there."""

    def __init__(
        self,
        interest: Interest | None = None,
        match: Match | None = None,
        session: Session | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.queue: asyncio.Queue[StoredEvent] = asyncio.Queue(QUEUE_LIMIT)
        self.lagging = False
        self.interest = interest
        self.match: Match = match or _everything
        self.session = session
        self.sink = sink
        self.direct = False  # parked: the bus delivers through the sink
        self.through = 0  # while parked: the last sequence the bus handled for this listener
        self.inflight = 0  # events handed to the bus's direct delivery and not yet handled
        self.closed = False
        self.holder: Holder | None = sink.holder() if sink is not None else None
        self._wake: asyncio.Future[None] | None = None
        self._sending: Awaitable[None] | None = None

    def offer(self, event: StoredEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagging = True

    async def park(self, last: int) -> int:
        """Sleep while the bus delivers through the sink; the last sequence handled when woken."""
        assert self.sink is not None
        assert not self.direct
        self.through = last
        self._wake = asyncio.get_running_loop().create_future()
        self.direct = True
        try:
            await self._wake
        finally:
            self.direct = False
            self._wake = None
        sending, self._sending = self._sending, None
        if sending is not None:  # the frame the socket could not take at once: it goes first
            with contextlib.suppress(Exception):
                await sending
        return self.through

    def unpark(self, event: StoredEvent | None = None, sending: Awaitable[None] | None = None) -> None:
        """Back to the queue (with `event` first in it); the consumer wakes."""
        self.direct = False
        self._sending = sending
        if event is not None:
            self.offer(event)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)


def _everything(_: StoredEvent) -> bool:
    return True


class EventBus:
    """Subscribes once at start-up (DESIGN 12: broadcaster's subscribe races) and fans out.

    With a pool it reads the outbox itself, once per process rather than once per listener,
    whenever the broker's stream has a hole: a gap in sequences (Redis dropped a message), a
    reference to an event too large for its message, or RESYNC after a backend reconnected
    (what was published meanwhile is in the table). Duplicates stop here.
    """

    def __init__(self, broadcast: Broadcast, pool: asyncpg.Pool | None = None) -> None:
        self.broadcast = broadcast
        self.pool = pool
        self.channel = CHANNEL
        self.listeners: set[Listener] = set()
        self.observers: list[Callable[[StoredEvent], None]] = []  # called before listeners, in order
        self.last_seen = 0  # the highest sequence the broker delivered
        self.fanned_out = 0  # the highest sequence offered to listeners, from the broker or the table
        self.last_hole = 0  # the latest sequence offered right after sequences never offered
        self.indexed = True  # False: every listener considers every event (the general path)
        self._everything: set[Listener] = set()  # listeners without an interest
        self._index: dict[str, dict[str | None, dict[object, set[Listener]]]] = {}
        self._direct: deque[tuple[StoredEvent, list[Listener], int]] = deque()
        self._direct_wake = asyncio.Event()
        self._caught_up = asyncio.Event()  # set while direct delivery has at most ADMIT_BACKLOG waiting
        self._caught_up.set()
        self._direct_task: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self.pool is not None:
            self.channel = channel_for(await self.pool.fetchval("SELECT current_database()"))
            self.fanned_out = await event_store.head(self.pool)
        await self.broadcast.connect()
        self._task = asyncio.create_task(self._pump(), name="event-bus")
        await self._ready.wait()

    async def stop(self) -> None:
        for task in (self._task, self._direct_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.broadcast.disconnect()

    async def publish(self, events: list[StoredEvent]) -> None:
        """One message for the whole list: `{"sequence": last, "batch": [event, …]}`."""
        if not events:
            return
        message = {"sequence": events[-1].sequence, "batch": [e.to_wire() for e in events]}
        await self.broadcast.publish(self.channel, json.dumps(message))

    async def _pump(self) -> None:
        backoff = 0.05
        while True:
            try:
                async with self.broadcast.subscribe(self.channel) as subscriber:
                    self._ready.set()
                    async for message in subscriber:  # type: ignore[union-attr]
                        if message is not None:
                            await self.receive(message.message)
                        backoff = 0.05
            except Exception:  # keep the listeners; they heal any gap from the table
                logger.exception("event bus subscription failed; subscribing again in %.2fs", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def receive(self, message: str) -> None:
        try:
            data: dict[str, Any] = json.loads(message)
            if data.get("resync"):
                await self._catch_up(None)
                return
            sequence = int(data["sequence"])
            if "batch" in data:
                events = [StoredEvent.from_wire(item) for item in data["batch"]]
            else:
                events = [] if data.get("ref") else [StoredEvent.from_wire(data)]
        except (ValueError, KeyError, TypeError):
            logger.warning("event bus ignored a malformed message: %.200r", message)
            return
        if not events:  # a reference: read up to it from the table
            self.last_seen = max(self.last_seen, sequence)
            await self._catch_up(sequence)
            return
        for event in events:
            await self._receive_one(event)

    async def _receive_one(self, event: StoredEvent) -> None:
        sequence = event.sequence
        self.last_seen = max(self.last_seen, sequence)
        if sequence <= self.fanned_out:
            return  # a duplicate; or late, and every listener has it (they fill gaps in order)
        if sequence > self.fanned_out + 1:
            await self._catch_up(sequence - 1)
        self._offer(event)

    def _offer(self, event: StoredEvent) -> None:
        if event.sequence > self.fanned_out + 1:
            self.last_hole = event.sequence  # listeners that may have missed something read the table
        self.fanned_out = max(self.fanned_out, event.sequence)
        for observe in self.observers:
            observe(event)
        direct: list[Listener] = []
        for listener in self.candidates(event):
            if listener.direct or listener.inflight:  # parked, or events already on their way to it
                listener.inflight += 1
                direct.append(listener)
            else:
                listener.offer(event)
        if direct:
            self._direct.append((event, direct, self.last_hole))
            if len(self._direct) > ADMIT_BACKLOG:
                self._caught_up.clear()
            self._direct_wake.set()
            if self._direct_task is None or self._direct_task.done():
                self._direct_task = asyncio.create_task(self._deliver_directly(), name="event-bus-direct")

    async def admit(self) -> None:
        """Wait while this process's fan-out is behind (more than ADMIT_BACKLOG events waiting for
        direct delivery), at most ADMIT_WAIT_SECONDS: a request starts once the subscribers have
        what happened before it. Free when fan-out keeps up."""
        if self._caught_up.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ADMIT_WAIT_SECONDS):
                await self._caught_up.wait()

    def candidates(self, event: StoredEvent) -> list[Listener]:
        """The listeners an event may concern: those without an interest, those watching its family,
        and those watching one of its values on an axis of that family (all of them unless `indexed`)."""
        if not self.indexed:
            return list(self.listeners)
        found = list(self._everything)
        for axis, by_value in self._index.get(family_of(event.type), {}).items():
            if axis is None:
                found.extend(by_value[None])
                continue
            for value in AXES[axis](event):
                found.extend(by_value.get(value, ()))
        return found

    async def _deliver_directly(self) -> None:
        """Events for parked listeners, one event at a time in sequence order. The sockets written
        to hold their frames until the queue is empty (or HOLD_EVENTS were handled), then write them
        together."""
        held: dict[int, Holder] = {}
        while True:
            await self._direct_wake.wait()
            self._direct_wake.clear()
            handled = 0
            try:
                while self._direct:
                    if handled % HOLD_EVENTS == 0:
                        await _render_ahead(list(itertools.islice(self._direct, HOLD_EVENTS)))
                    event, listeners, hole = self._direct.popleft()
                    if not self._direct:
                        self._caught_up.set()
                    try:
                        await self._deliver(event, listeners, hole, held)
                    except Exception:  # the consumers take over: they deliver or end as they would have
                        logger.exception("direct delivery of event %s failed", event.sequence)
                        for listener in listeners:
                            if listener.direct and listener.through < event.sequence:
                                listener.unpark(event)
                    finally:
                        for listener in listeners:
                            listener.inflight -= 1
                    handled += 1
                    if handled % HOLD_EVENTS == 0:
                        _release(held)
            finally:
                _release(held)

    async def _deliver(
        self, event: StoredEvent, listeners: list[Listener], hole: int, held: dict[int, Holder]
    ) -> None:
        groups: dict[Hashable, list[Listener]] = {}
        for listener in listeners:
            if listener.closed:
                continue
            if not listener.direct:  # its consumer took over: the queue keeps the order
                listener.offer(event)
                continue
            if event.sequence <= listener.through:
                continue
            if hole > listener.through:  # it may have missed events: its consumer reads the table
                listener.unpark(event)
                continue
            assert listener.sink is not None
            verdict = decide(event, listener.match, listener.session)
            if verdict is Verdict.SKIP:
                listener.through = event.sequence
                continue
            key = listener.sink.group() if verdict is Verdict.DELIVER else None
            if key is None:
                listener.unpark(event)
                continue
            groups.setdefault(key, []).append(listener)
        if not groups:
            return
        members = list(groups.values())
        if len(members) == 1:
            rendered = [await _render(members[0][0], event)]
        else:
            rendered = await asyncio.gather(*(_render(group[0], event) for group in members))
        for group, shared in zip(members, rendered, strict=True):
            for listener in group:
                if listener.closed or not listener.direct:
                    if not listener.closed:
                        listener.offer(event)
                    continue
                assert listener.sink is not None
                holder = listener.holder
                if holder is not None and id(holder) not in held:
                    holder.hold()
                    held[id(holder)] = holder
                sent = listener.sink.write(shared) if shared is not None else False
                if sent is False:
                    listener.unpark(event)
                    continue
                listener.through = event.sequence
                if sent is not True:  # the socket is full: the consumer takes over once it drains
                    listener.unpark(sending=sent)

    async def _catch_up(self, until: int | None) -> None:
        if self.pool is None or (until is not None and until <= self.fanned_out):
            return
        try:
            while True:
                batch = await event_store.read_after(self.pool, self.fanned_out, limit=BATCH, until=until)
                for event in batch:
                    self._offer(event)
                if len(batch) < BATCH:
                    return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            # Listeners fill the gap themselves when the next event arrives.
            logger.warning("event bus could not read the outbox", exc_info=True)

    @contextlib.asynccontextmanager
    async def listen(
        self,
        interest: Interest | None = None,
        *,
        match: Match | None = None,
        session: Session | None = None,
        sink: Sink | None = None,
    ) -> AsyncIterator[Listener]:
        listener = Listener(interest, match, session, sink)
        self.listeners.add(listener)
        members = self._members(interest)
        members.add(listener)
        try:
            yield listener
        finally:
            listener.closed = True
            listener.direct = False
            self.listeners.discard(listener)
            members.discard(listener)
            if not members and interest is not None:
                self._forget(interest)

    def _members(self, interest: Interest | None) -> set[Listener]:
        """The index entry of the listeners with this interest (made when missing)."""
        if interest is None:
            return self._everything
        by_value = self._index.setdefault(interest.family, {}).setdefault(interest.axis, {})
        return by_value.setdefault(interest.value, set())

    def _forget(self, interest: Interest) -> None:
        """Drop an empty entry, so the index holds only what someone watches."""
        by_axis = self._index[interest.family]
        by_value = by_axis[interest.axis]
        if not by_value.get(interest.value, True):
            del by_value[interest.value]
        if not by_value:
            del by_axis[interest.axis]
        if not by_axis:
            del self._index[interest.family]


async def _render_ahead(batch: Sequence[tuple[StoredEvent, list[Listener], int]]) -> None:
    """Render the next events for the groups that will take them, all at once: the executions share
    the loop's turns and the live pool instead of taking turns one event after another, and
    `_deliver` then finds each result done (schema/fanout.py keeps it by event, shape and viewer
    key). Only a warm-up: `_deliver` decides again and renders whatever is not found."""
    if len(batch) < 2:
        return
    renders: list[tuple[Listener, StoredEvent]] = []
    for event, listeners, _ in batch:
        groups: set[Hashable] = set()
        for listener in listeners:
            if listener.closed or not listener.direct or listener.sink is None:
                continue
            try:
                if decide(event, listener.match, listener.session) is not Verdict.DELIVER:
                    continue
                key = listener.sink.group()
            except Exception:  # `_deliver` meets it again, and hands the listener to its consumer
                continue
            if key is not None and key not in groups:
                groups.add(key)
                renders.append((listener, event))
    if len(renders) > 1:
        await asyncio.gather(*(_render(listener, event) for listener, event in renders))


def _release(held: dict[int, Holder]) -> None:
    for holder in held.values():
        try:
            holder.release()
        except Exception:  # a socket that failed to write: its connection ends, the rest go on
            logger.debug("releasing a socket's frames failed", exc_info=True)
    held.clear()


async def _render(listener: Listener, event: StoredEvent) -> object | None:
    assert listener.sink is not None
    try:
        return await listener.sink.render(event)
    except Exception:  # each consumer runs the general path, which reports what went wrong
        logger.debug("rendering event %s for direct delivery failed", event.sequence, exc_info=True)
        return None
