"""A browser app on another origin: fetch and graphql-ws from a page, allowed and refused origins."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from db import events as event_store
from dealflow.settings import Settings
from tests.api.test_quote_page_browser import FLAGS, chromium_or_skip
from tests.harness import Harness, live_server

# A single-page app's own client: fetch for queries and mutations, and a minimal
# graphql-transport-ws client (connection_init, subscribe, next, ping/pong) on a WebSocket.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title></head><body>
<script>
async function graphql(api, token, query, variables) {
  const response = await fetch(api, {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
    body: JSON.stringify({query, variables}),
  });
  return {
    status: response.status,
    remaining: response.headers.get("X-RateLimit-Remaining"),
    body: await response.json(),
  };
}

function subscribeOnce(url, token, query, variables, onAck) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, "graphql-transport-ws");
    const timer = setTimeout(() => reject(new Error("no event within 10 s")), 10000);
    const send = (frame) => socket.send(JSON.stringify(frame));
    socket.onerror = () => { clearTimeout(timer); reject(new Error("WebSocket refused")); };
    socket.onopen = () => send({type: "connection_init", payload: {Authorization: "Bearer " + token}});
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "connection_ack") {
        send({id: "1", type: "subscribe", payload: {query, variables}});
        onAck();
      } else if (frame.type === "ping") {
        send({type: "pong"});
      } else if (frame.type === "next") {
        clearTimeout(timer);
        send({id: "1", type: "complete"});
        socket.close(1000);
        resolve(frame.payload);
      } else {
        reject(new Error(message.data));
      }
    };
  });
}
</script></body></html>"""

SUBSCRIPTION = "subscription($a: String) { recordChanged(objectType: CONTACT, after: $a) { type record } }"
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { contact { id email } } }"

APP_FLOW = """async ({api, ws, token, head, subscription, create}) => {
  const viewer = await graphql(api, token, "{ viewer { email } }");
  let acked;
  const ack = new Promise((resolve) => { acked = resolve; });
  const event = subscribeOnce(ws, token, subscription, {a: head}, acked);
  await ack;
  const created = await graphql(api, token, create, {i: {email: "ada@example.com", firstName: "Ada"}});
  return {viewer, created, event: await event};
}"""

REFUSED_FLOW = """async ({api, ws, token, subscription}) => {
  const outcome = {};
  try { await graphql(api, token, "{ viewer { email } }"); outcome.fetch = "read"; }
  catch (error) { outcome.fetch = String(error); }
  try { await subscribeOnce(ws, token, subscription, {}, () => {}); outcome.ws = "opened"; }
  catch (error) { outcome.ws = error.message; }
  return outcome;
}"""


@contextlib.asynccontextmanager
async def page_server() -> AsyncIterator[str]:
    """A second origin: a tiny HTTP server serving the app's page on its own port."""
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(PAGE))])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_page_on_an_allowed_origin_queries_mutates_and_subscribes_from_a_browser(
    db_dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with page_server() as allowed, page_server() as other:
        settings = Settings(allowed_origins=(allowed,))
        async with live_server(db_dsn, settings) as api:
            client = await Harness(pool=pool, server=api, http=None).user()  # type: ignore[arg-type]
            head = str(await event_store.stamp(pool))
            args: dict[str, Any] = {
                "api": api.url + "/graphql", "ws": api.ws_url, "token": client.token, "head": head,
                "subscription": SUBSCRIPTION, "create": CREATE_CONTACT,
            }  # fmt: skip
            async with async_playwright() as p:
                browser = await p.chromium.launch_persistent_context(
                    str(tmp_path / "profile"), executable_path=executable, headless=True, args=FLAGS
                )
                try:
                    page = await browser.new_page()
                    await page.goto(allowed + "/")
                    result = await page.evaluate(APP_FLOW, args)
                    await page.goto(other + "/")
                    refused = await page.evaluate(REFUSED_FLOW, args)
                finally:
                    await browser.close()

    assert result["viewer"]["status"] == 200
    assert result["viewer"]["body"]["data"]["viewer"]["email"] == (
        await pool.fetchval("SELECT email FROM users WHERE id = $1", client.user_id)
    )
    assert result["viewer"]["remaining"] is not None  # the rate-limit headers are exposed to the page
    contact = result["created"]["body"]["data"]["createContact"]["contact"]
    assert contact["email"] == "ada@example.com"
    event = result["event"]["data"]["recordChanged"]
    assert event["type"] == "contact.created" and event["record"]["id"] == contact["id"]
    assert refused == {"fetch": "TypeError: Failed to fetch", "ws": "WebSocket refused"}
