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
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import (
    RESULTS_DIR,
    Result,
    database_kind,
    dealflow_app,
    fresh_database,
    machine,
    new_user,
    now_iso,
    postgres_server,
    resolve_loadgen,
    running,
    serve_uvicorn,
    timed_load,
    write_results,
)

from domain.ids import global_id

RESULTS = RESULTS_DIR / "http_overhead.json"
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
        return JSONResponse({"data": {"viewer": {"id": global_id("User", viewer.user.id)}}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def serve(kind: str, dsn: str, port: int) -> None:
    serve_uvicorn(bare_app(dsn) if kind == "bare" else dealflow_app(dsn), port)


# ---------------------------------------------------------------------------------------------
# The run


async def check_answer(url: str, token: str, user_id: int) -> None:
    """Both servers must give the same, correct answer before they are timed."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            content=BODY,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    expected = {"viewer": {"id": global_id("User", user_id)}}  # the app adds the cost in extensions
    if response.status_code != 200 or response.json().get("data") != expected:
        raise RuntimeError(f"{url}: unexpected answer {response.status_code} {response.text}")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Result] = {}
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="dealflow-bench-logs-") as logs:
        async with fresh_database(server) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                user_id, token = await new_user(conn, "bench@example.com", "Bench")
            finally:
                await conn.close()
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            for kind in KINDS:
                async with running(__file__, kind, dsn, Path(logs)) as live:
                    await check_answer(live.url, token, user_id)
                    result = await timed_load(
                        live, args.loadgen, "/graphql", BODY, headers,
                        warmup=args.warmup, seconds=args.duration, connections=args.connections,
                        threads=args.threads,
                    )  # fmt: skip
                    results[kind] = result
                    print(f"{kind:>8}: {result.requests_per_second:>9,.1f} requests/s", flush=True)
    ratio = results["graphql"].requests_per_second / results["bare"].requests_per_second
    return {
        "benchmark": "http_overhead",
        "query": QUERY,
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
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
    args.loadgen = resolve_loadgen(args.loadgen)
    summary = asyncio.run(bench(args))
    print(report(summary))
    write_results(args.out, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
