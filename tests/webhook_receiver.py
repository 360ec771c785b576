"""A webhook receiver that verifies every request with the `standardwebhooks` package.

In a test's event loop (`Receiver` + `serve`) or as its own process:
`python -m tests.webhook_receiver --port P --secret-file F --out LOG` (one JSON line per verified
request; `POST /mode` with `ok`, `500` or `sleep:<seconds>` changes how it answers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Receiver:
    """What arrived (verified requests, in arrival order) and how to answer the next ones."""

    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    mode: str = "ok"
    plan: list[str] = field(default_factory=list)  # modes for the next requests, then `mode`
    out: Path | None = None

    def ids(self) -> list[str]:
        return [r["webhook_id"] for r in self.received]

    def unique_sequences(self) -> list[int]:
        """Sequences in first-arrival order after dropping duplicates by webhook-id."""
        seen: dict[str, int] = {}
        for r in self.received:
            seen.setdefault(r["webhook_id"], int(r["body"]["sequence"]))
        return list(seen.values())

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            self._log({"rejected": request.headers.get("webhook-id")})
            return PlainTextResponse("bad signature", status_code=401)
        mode = self.plan.pop(0) if self.plan else self.mode
        if mode.startswith("sleep:"):
            await asyncio.sleep(float(mode.split(":")[1]))
        if mode == "500":
            return PlainTextResponse("failing on purpose", status_code=500)
        if mode == "307":
            return PlainTextResponse("moved", status_code=307, headers={"location": "/hook?redirected=1"})
        entry = {"webhook_id": request.headers["webhook-id"], "body": payload, "query": request.url.query}
        self.received.append(entry)
        self._log(entry)
        return PlainTextResponse("ok")

    def _log(self, entry: dict[str, Any]) -> None:
        if self.out is not None:
            with self.out.open("a") as f:
                f.write(json.dumps(entry) + "\n")

    async def set_mode(self, request: Request) -> Response:
        self.mode = (await request.body()).decode()
        return PlainTextResponse(self.mode)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/hook", self.hook, methods=["POST"]),
                Route("/mode", self.set_mode, methods=["POST"]),
            ]
        )


@contextlib.asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[str]:
    """Serve in this event loop; yield the /hook URL."""
    config = uvicorn.Config(receiver.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", default="ok")
    args = parser.parse_args()
    receiver = Receiver(secret=args.secret_file.read_text().strip(), out=args.out, mode=args.mode)
    uvicorn.run(receiver.app(), host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
