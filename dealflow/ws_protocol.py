"""The WebSocket protocol dealflow is served with: uvicorn's (websockets, sans-I/O) protocol, whose
frames can be held and written together (subscriptions.bus.Holder).

The event bus holds a socket while it fans out a burst of events, so the socket gets one write for
the burst instead of one per event: on loopback a write of one frame cost ~24 µs of CPU here and one
of five frames ~4.6 µs a frame, as much as the rest of a delivery. Held or not, every frame goes
through the same websockets protocol buffer in order; only the write to the transport waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from subscriptions.bus import HOLD_EXTENSION

MAX_HELD = 64  # frames a held socket keeps before it writes anyway


@dataclass
class WriteStats:
    """For tests and benchmarks: frames sent while held, and the writes that carried them."""

    frames: int = 0
    writes: int = 0


HELD = WriteStats()


class FrameHoldingProtocol(WebSocketsSansIOProtocol):
    _last_framed: ClassVar[tuple[bytes, bytes]] = (b"", b"")  # (a message, its frame): see take

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holds = 0
        self._held = 0  # frames in the protocol's buffer, not yet written

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: Any = getattr(self, "scope", None)  # none when the handshake was refused
        if scope is not None:
            scope["extensions"][HOLD_EXTENSION] = self

    def hold(self) -> None:
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        if self._holds == 0:
            self._write_held()

    async def send(self, message: Any) -> None:
        if not (self._holds and message["type"] == "websocket.send" and self._open()):
            await super().send(message)  # writes what it sends and anything held before it
            self._held = 0
            return
        try:
            if message.get("bytes") is not None:
                self.conn.send_binary(message["bytes"])
            else:
                self.conn.send_text(message["text"].encode())
        except InvalidState:
            await super().send(message)  # as uvicorn answers a send on a closed connection
            return
        self._buffered()

    def take(self, text_frame: bytes) -> bool:
        """Send a text message straight away, without the ASGI round (starlette, uvicorn's send):
        the event bus's direct delivery, once per subscriber. False, sending nothing, when the
        connection cannot take it at once (closing or closed, or its buffer over the limit).

        A server's frames are not masked, so a message is the same bytes on every socket without
        extensions (dealflow serves without compression): the last one framed is framed once for
        the sockets it goes to one after another, and appended to the connection's writes as
        websockets' own send_text would append it."""
        if not self._open():
            return False
        conn = self.conn
        if (
            conn.state is State.OPEN
            and not conn.expect_continuation_frame
            and not conn.extensions
            and not conn.debug
        ):
            framed_text, wire = FrameHoldingProtocol._last_framed
            if framed_text is not text_frame:
                wire = Frame(Opcode.TEXT, text_frame).serialize(mask=False, extensions=[])
                FrameHoldingProtocol._last_framed = (text_frame, wire)
            conn.writes.append(wire)
        else:
            try:
                conn.send_text(text_frame)
            except InvalidState:
                return False
        self._buffered()
        return True

    def _buffered(self) -> None:
        """A frame went into the protocol's buffer: written at once, unless the socket is held
        (then when released, or once MAX_HELD wait)."""
        if not self._holds:
            self._write_held()
            return
        self._held += 1
        HELD.frames += 1
        if self._held >= MAX_HELD:
            self._write_held()

    def _open(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
            and not self.disconnected
            and self.writable.is_set()
        )

    def _write_held(self) -> None:
        output = self.conn.data_to_send()
        self._held = 0
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))
            HELD.writes += 1


# How dealflow is served, by `dealflow serve`, the tests' live servers and the benchmarks alike.
UVICORN_OPTIONS: dict[str, Any] = {"ws": FrameHoldingProtocol, "ws_per_message_deflate": False}
