"""CORS for browser apps on the origins in ALLOWED_ORIGINS (DESIGN 10); other origins get none."""

from __future__ import annotations

from collections.abc import Collection

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Send

RATE_LIMIT_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]


class AllowedOriginsCORS(CORSMiddleware):
    """Starlette's CORS, minus the headers it adds for any Origin: only allowed origins get them."""

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("Origin")
        if origin is None or self.allow_all_origins or self.is_allowed_origin(origin=origin):
            await super().send(message, send, request_headers)
            return
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
        await send(message)


def add_cors(app: Starlette, origins: Collection[str]) -> None:
    """Outermost, so that refusals (401, 413, 429) are readable by the page too."""
    app.add_middleware(
        AllowedOriginsCORS,
        allow_origins=sorted(origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        expose_headers=RATE_LIMIT_HEADERS,
        max_age=600,
    )
