"""GraphiQL in dev: a page that signs in with `?token=` and a ready token for dev@localhost."""

from __future__ import annotations

import asyncpg

from db import users as user_store
from db.errors import Duplicate
from domain.records import Scope

DEV_EMAIL = "dev@localhost"


async def dev_token(pool: asyncpg.Pool) -> str:
    """A fresh token for the dev super admin, created on first use."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            user = await user_store.insert_user(
                conn,
                email=DEV_EMAIL,
                name="Dev",
                is_super_admin=True,
                can_approve_deals=True,
                view_scope=Scope.ALL,
                edit_scope=Scope.ALL,
            )
            user_id = user.id
        except Duplicate as existing:
            user_id = existing.existing_id
        return await user_store.insert_token(conn, user_id)


def graphiql_address(host: str, port: int, token: str) -> str:
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    return f"http://{shown}:{port}/graphql?token={token}"


# GraphiQL 3.8.3 and React 18.2.0 from unpkg, pinned by Subresource Integrity. With `?token=` the
# token goes in the Headers pane, on every request (the schema's included) and in the WebSocket's
# connection_init payload, so the schema loads at once and subscriptions are authenticated too.
GRAPHIQL_HTML = """<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>dealflow GraphiQL</title>
  <style>body { margin: 0; } #graphiql { height: 100vh; }</style>
  <script crossorigin src="https://unpkg.com/react@18.2.0/umd/react.production.min.js"
    integrity="sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js"
    integrity="sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"></script>
  <link crossorigin rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css"
    integrity="sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"
    integrity="sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"></script>
  <script>
    const token = new URLSearchParams(window.location.search).get("token");
    const auth = token ? { Authorization: "Bearer " + token } : {};
    const url = window.location.origin + window.location.pathname;
    const fetcher = GraphiQL.createFetcher({
      url,
      subscriptionUrl: url.replace(/^http/, "ws"),
      headers: auth,
      wsConnectionParams: auth,
    });
    const hint = token ? "{ viewer { id email name } }\\n" :
      "# Sign in: open this page as /graphql?token=<your token> (`dealflow serve` in dev prints one),\\n" +
      '# or put {"Authorization": "Bearer <token>"} in the Headers pane below.\\n';
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery: hint,
        headers: token ? JSON.stringify(auth, null, 2) : undefined,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: token ? "headers" : true,
      }),
    );
  </script>
</body>
</html>
"""
