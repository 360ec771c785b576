"""The board through GraphQL against the same SQL behind a raw asyncpg + starlette JSON endpoint,
and (`--peer postgraphile`) against PostGraphile over the same database.

One pipeline with 8 stages and 10,000 deals (owners, 1 to 3 contacts each). Both servers answer
the same request, `board(pipelineId, perStage: 50)` with each column's stage, totalCount and
totalAmount and, on each of its first 50 deals, id, name, amount, `owner { id name }` and
`contacts { id email }`, with the same JSON:

- **graphql**: the real app, `dealflow.app.create_app(Settings(env="production"))`, `POST /graphql`;
- **raw**: a starlette endpoint that parses the body, looks the token up and runs the statements
  the app runs for that query, through the same `db` functions (the pipeline and its stages, the
  stage totals, the first deals of each stage, then, concurrently as the app's dataloaders do, the
  owners and the deal-contact links, then the contacts), and builds the same JSON by hand;
- **postgraphile** (`--peer postgraphile`): PostGraphile v4 with @graphile/pg-aggregates (for the
  totals), installed from bench/peers/postgraphile/package-lock.json (`npm ci` there when its
  node_modules is missing; skipped, saying so, when node is not installed), served by node in one
  process on the same database, checking the same token per request; asked the same board through
  its own schema (stages of the pipeline, each stage's deals: totalCount, `aggregates { sum
  { amount } }` and the first 50 by createdAt and id descending, their owner and contacts).

The answers are checked to carry the same data: each is brought to one canonical shape (field names,
amounts as decimals, ids replaced by their order of first appearance per type, so an id format,
numeric or opaque, does not matter) and must be equal to the raw endpoint's.

Each is served in a subprocess (uvicorn with one worker; PostGraphile by one node process), all at
once against the same database, and loaded by wrk (else an asyncio + httpx fallback) with the same
concurrency for the same time after a warm-up: the timed load comes in `--rounds` interleaved rounds
(each server in turn, the order reversed every other round), so that work others run on the machine
meanwhile weighs on every server alike; each server's figures are summed over its rounds.

    .venv/bin/python bench/board.py [--duration 10] [--rounds 5] [--connections 16] [--peer postgraphile]
                                    [--profile]

`--profile` also records where the GraphQL server spends its time with py-spy (when installed:
`.venv/bin/uv pip install py-spy`; not a project dependency) during an extra load run, and prints the
functions with the most samples. DATABASE_URL: the server to use (a database is created and dropped
there); unset, an embedded PostgreSQL in a temporary directory. Results: printed, and written to
bench/results/board.json. Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import (
    RESULTS_DIR,
    Result,
    Server,
    cpu_seconds,
    database_kind,
    dealflow_app,
    find_py_spy,
    fresh_database,
    load,
    machine,
    new_user,
    now_iso,
    postgres_server,
    resolve_loadgen,
    running,
    serve_uvicorn,
    start_profile,
    stop_profile,
    timed_load,
    write_results,
)

RESULTS = RESULTS_DIR / "board.json"
KINDS = ("raw", "graphql")
PEERS = ("postgraphile",)
POSTGRAPHILE_DIR = Path(__file__).resolve().parent / "peers" / "postgraphile"
DEALS = 10_000
STAGES = 8
OWNERS = 25
CONTACTS = 4_000
PER_STAGE = 50
QUERY = """query Board($pipelineId: ID!, $perStage: Int!) {
  board(pipelineId: $pipelineId, perStage: $perStage) {
    columns {
      stage { id label }
      totalCount
      totalAmount
      deals { edges { node { id name amount owner { id name } contacts { id email } } } }
    }
  }
}"""
# The same board in PostGraphile's schema: a pipeline's stages in order, each with its live deals'
# count and sum (pg-aggregates) and its first deals newest first, as db/board.py orders them.
POSTGRAPHILE_QUERY = """query Board($pipelineId: BigInt!, $perStage: Int!) {
  pipelineById(id: $pipelineId) {
    stagesByPipelineId(orderBy: [DISPLAY_ORDER_ASC, ID_ASC]) {
      nodes {
        id
        label
        dealsByStageId(condition: { deletedAt: null }, orderBy: [CREATED_AT_DESC, ID_DESC], first: $perStage) {
          totalCount
          aggregates { sum { amount } }
          nodes {
            id name amount
            userByOwnerId { id name }
            dealContactsByDealId(orderBy: CONTACT_ID_ASC) { nodes { contactByContactId { id email } } }
          }
        }
      }
    }
  }
}"""


# ---------------------------------------------------------------------------------------------
# The data: batched statements, deterministic for a seed


async def load_data(conn: asyncpg.Connection, seed: int) -> int:
    """Owners, contacts, one pipeline of 8 stages, 10,000 deals with 1 to 3 contacts: its id."""
    from db.pipelines import insert_pipeline
    from domain.records import StageKind

    rng = random.Random(seed)
    now = datetime.now(UTC)
    async with conn.transaction():
        owner_ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO users (email, name)
                SELECT 'owner' || g || '@bench.example', 'Owner ' || g FROM generate_series(1, $1) g
                RETURNING id
                """,
                OWNERS,
            )
        ]
        contact_ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO contacts (email, first_name, last_name, owner_id)
                SELECT 'contact' || g || '@bench.example', 'First' || g, 'Last' || g, ($2::bigint[])[1 + g % array_length($2::bigint[], 1)]
                  FROM generate_series(1, $1) g
                RETURNING id
                """,
                CONTACTS,
                owner_ids,
            )
        ]
        stages = [(f"Stage {i + 1}", round((i + 1) / (STAGES + 1), 2), StageKind.OPEN) for i in range(STAGES)]
        pipeline = await insert_pipeline(conn, "Bench pipeline", stages)
        stage_ids = [s.id for s in pipeline.stages]
        deal_ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id, close_date, created_at, updated_at)
                SELECT 'Deal ' || n, a, $1, s, o, c, t, t
                  FROM unnest($2::bigint[], $3::numeric[], $4::bigint[], $5::timestamptz[], $6::timestamptz[])
                       WITH ORDINALITY AS u (s, a, o, c, t, n)
                 ORDER BY n
                RETURNING id
                """,
                pipeline.id,
                [rng.choice(stage_ids) for _ in range(DEALS)],
                [Decimal(rng.randrange(10, 2000) * 50) for _ in range(DEALS)],
                [rng.choice(owner_ids) for _ in range(DEALS)],
                [now + timedelta(days=rng.randint(1, 180)) for _ in range(DEALS)],
                [now - timedelta(minutes=rng.randint(0, 365 * 24 * 60)) for _ in range(DEALS)],
            )
        ]
        pairs = [(d, c) for d in deal_ids for c in rng.sample(contact_ids, rng.randint(1, 3))]
        await conn.execute(
            "INSERT INTO deal_contacts (deal_id, contact_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )
    await conn.execute("ANALYZE")
    return pipeline.id


# ---------------------------------------------------------------------------------------------
# The two servers (run in a subprocess: `board.py --serve KIND --dsn DSN --port PORT`)


def raw_app(dsn: str) -> Any:
    """The board's statements without GraphQL: same `db` functions, same JSON, built by hand."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from db import associations
    from db import board as board_store
    from db import pipelines as pipeline_store
    from db import records as record_store
    from db import users as user_store
    from db.pool import create_pool
    from domain.ids import global_id  # the app's own id encoding: the same JSON, the same work
    from domain.records import ObjectType
    from domain.visibility import visible_owner_ids
    from resolvers.auth import authenticate

    state: dict[str, asyncpg.Pool] = {}
    # The columns the app reads for this selection (schema/records.py FIELD_COLUMNS).
    deal_columns = ("name", "amount", "owner_id", "stage_id")
    contact_columns = ("email", "owner_id")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await create_pool(dsn, max_size=20)  # the app's default DATABASE_POOL_SIZE
        try:
            yield
        finally:
            await state["pool"].close()

    async def board(request: Request) -> Response:
        pool = state["pool"]
        viewer = await authenticate(pool, request.headers.get("authorization"))
        if viewer is None:
            return JSONResponse({"errors": [{"message": "unauthenticated"}]}, status_code=401)
        body = await request.json()
        variables = body.get("variables") or {}
        pipeline_id, per_stage = int(variables["pipelineId"]), int(variables["perStage"])
        # The bench user's scope is ALL: the app's filter is then "TRUE" with no arguments.
        assert visible_owner_ids(viewer, viewer.user.view_scope) is None
        pipeline = await pipeline_store.get_pipeline(pool, pipeline_id)
        totals = await board_store.stage_totals(pool, pipeline_id, where="TRUE", args=[])
        firsts = await board_store.first_deals(
            pool, pipeline_id, per_stage, where="TRUE", args=[], columns=deal_columns
        )
        columns = [(stage, firsts.get(stage.id, [])[:per_stage]) for stage in pipeline.stages]
        deals = [d for _, column in columns for d in column]
        owner_ids = list(dict.fromkeys(d.owner_id for d in deals if d.owner_id is not None))
        users, links = await asyncio.gather(
            user_store.list_users(pool, owner_ids),
            associations.linked(pool, "DEAL", [d.id for d in deals], "CONTACT"),
        )
        contact_ids = list(dict.fromkeys(c for _, c in links))
        contacts = {
            r.id: r
            for r in await record_store.get_records(
                pool, ObjectType.CONTACT, contact_ids, None, viewer.id, contact_columns
            )
        }
        owners = {u.id: {"id": global_id("User", u.id), "name": u.name} for u in users}
        by_deal: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
        for deal_id, contact_id in links:
            contact = contacts.get(contact_id)
            if contact is not None:
                by_deal[deal_id].append(
                    {"id": global_id("Contact", contact.id), "email": contact.get("email")}
                )
        out = []
        for stage, column in columns:
            n, total = totals.get(stage.id, (0, Decimal(0)))
            edges = [
                {
                    "node": {
                        "id": global_id("Deal", d.id),
                        "name": d.get("name"),
                        "amount": None if d.get("amount") is None else str(d.get("amount")),
                        "owner": owners.get(d.owner_id) if d.owner_id is not None else None,
                        "contacts": by_deal[d.id],
                    }
                }
                for d in column
            ]
            out.append(
                {
                    "stage": {"id": global_id("Stage", stage.id), "label": stage.label},
                    "totalCount": n,
                    "totalAmount": str(total),
                    "deals": {"edges": edges},
                }
            )
        return JSONResponse({"data": {"board": {"columns": out}}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", board, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )


def serve(kind: str, dsn: str, port: int, gc_threshold: int | None) -> None:
    if kind == "postgraphile":  # this process becomes node, so its pid is the server's
        os.execvp("node", ["node", str(POSTGRAPHILE_DIR / "server.js"), dsn, str(port)])
    serve_uvicorn(raw_app(dsn) if kind == "raw" else dealflow_app(dsn), port, gc_threshold=gc_threshold)


def install_postgraphile() -> str | None:
    """PostGraphile's node_modules, installed from the lockfile when missing; None when it can be
    run, else why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed (apt-get install nodejs npm): PostGraphile skipped"
    if not (POSTGRAPHILE_DIR / "node_modules" / "postgraphile").is_dir():
        print("installing PostGraphile: npm ci in bench/peers/postgraphile", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=POSTGRAPHILE_DIR, check=True)
    return None


# ---------------------------------------------------------------------------------------------
# The run


async def answer(url: str, body: str, token: str) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    if response.status_code != 200 or "errors" in response.json():
        raise RuntimeError(f"{url}: unexpected answer {response.status_code} {response.text[:2000]}")
    return response.json()


def canonical(found: Any, kind: str) -> list[dict[str, Any]]:
    """The board an answer carries, in one shape whatever the server: dealflow's field names, amounts
    as Decimals, and every id replaced by its type and order of first appearance (`Deal#3`), so
    answers compare equal when they carry the same data, whatever their ids look like."""
    if kind == "postgraphile":
        stages = found["data"]["pipelineById"]["stagesByPipelineId"]["nodes"]
        columns = [
            {
                "stage": {"id": s["id"], "label": s["label"]},
                "totalCount": s["dealsByStageId"]["totalCount"],
                "totalAmount": s["dealsByStageId"]["aggregates"]["sum"]["amount"],
                "deals": [
                    {
                        "id": d["id"],
                        "name": d["name"],
                        "amount": d["amount"],
                        "owner": d["userByOwnerId"],
                        "contacts": [
                            link["contactByContactId"] for link in d["dealContactsByDealId"]["nodes"]
                        ],
                    }
                    for d in s["dealsByStageId"]["nodes"]
                ],
            }
            for s in stages
        ]
    else:
        columns = [
            {**c, "deals": [e["node"] for e in c["deals"]["edges"]]}
            for c in found["data"]["board"]["columns"]
        ]
    ids: dict[tuple[str, object], str] = {}

    def rename(kind: str, value: object) -> str:
        return ids.setdefault((kind, value), f"{kind}#{sum(1 for k in ids if k[0] == kind)}")

    def amount(value: object) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        {
            "stage": {"id": rename("Stage", c["stage"]["id"]), "label": c["stage"]["label"]},
            "totalCount": int(c["totalCount"]),
            "totalAmount": amount(c["totalAmount"]) or Decimal(0),
            "deals": [
                {
                    "id": rename("Deal", d["id"]),
                    "name": d["name"],
                    "amount": amount(d["amount"]),
                    "owner": None
                    if d["owner"] is None
                    else {"id": rename("User", d["owner"]["id"]), "name": d["owner"]["name"]},
                    "contacts": [
                        {"id": rename("Contact", x["id"]), "email": x["email"]} for x in d["contacts"]
                    ],
                }
                for d in c["deals"]
            ],
        }
        for c in columns
    ]


def check_board(columns: list[dict[str, Any]]) -> dict[str, int]:
    deals = [d for c in columns for d in c["deals"]]
    assert len(columns) == STAGES, len(columns)
    assert sum(c["totalCount"] for c in columns) == DEALS
    assert all(len(c["deals"]) == min(PER_STAGE, c["totalCount"]) for c in columns)
    assert all(d["owner"] and 1 <= len(d["contacts"]) <= 3 for d in deals)
    return {"columns": len(columns), "deals": len(deals), "contacts": sum(len(d["contacts"]) for d in deals)}


async def profile(
    args: argparse.Namespace, live: Server, body: str, headers: dict[str, str], logs: Path
) -> list[str]:
    """py-spy samples of the GraphQL server under the same load as the timed run."""
    if args.py_spy is None:
        return ["py-spy is not installed (.venv/bin/uv pip install py-spy); no profile"]
    recording = await start_profile(args.py_spy, live.pid, logs / "graphql.pyspy.txt")
    await load(
        args.loadgen, live.url + "/graphql", body, headers, args.duration, args.connections, args.threads
    )
    return await stop_profile(recording, args.profile_top)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Result] = {}
    shape: dict[str, int] = {}
    profile_lines: list[str] = []
    kinds = [*KINDS, *args.peer]
    bodies: dict[str, str] = {}
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="dealflow-bench-logs-") as logs:
        async with fresh_database(server) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                _, token = await new_user(conn, "bench@example.com", "Bench")
                pipeline_id = await load_data(conn, args.seed)
            finally:
                await conn.close()
            for kind in kinds:
                query = POSTGRAPHILE_QUERY if kind == "postgraphile" else QUERY
                variables = {"pipelineId": str(pipeline_id), "perStage": PER_STAGE}
                bodies[kind] = json.dumps({"query": query, "variables": variables})
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            answers: dict[str, Any] = {}
            boards: dict[str, list[dict[str, Any]]] = {}
            extra = ["--gc-threshold", str(args.gc_threshold)] if args.gc_threshold else []
            async with contextlib.AsyncExitStack() as servers:
                live: dict[str, Server] = {}
                for kind in kinds:  # all up at once, each idle while another is loaded
                    live[kind] = await servers.enter_async_context(
                        running(__file__, kind, dsn, Path(logs), extra)
                    )
                    answers[kind] = await answer(live[kind].url, bodies[kind], token)
                    boards[kind] = canonical(answers[kind], kind)
                    shape = check_board(boards[kind])
                    if kind != "raw" and boards[kind] != boards["raw"]:
                        raise RuntimeError(f"the raw endpoint and {kind} answer different boards")
                    if kind == "graphql" and answers[kind]["data"] != answers["raw"]["data"]:
                        raise RuntimeError("the raw endpoint's JSON differs from /graphql's")  # ids too
                for kind in kinds:
                    if args.warmup > 0:
                        await load(args.loadgen, live[kind].url + "/graphql", bodies[kind], headers,
                                   args.warmup, args.connections, args.threads)  # fmt: skip
                rounds: dict[str, list[Result]] = {kind: [] for kind in kinds}
                seconds = args.duration / args.rounds
                for n in range(args.rounds):
                    for kind in kinds if n % 2 == 0 else kinds[::-1]:
                        result = await timed_load(
                            live[kind], args.loadgen, "/graphql", bodies[kind], headers,
                            warmup=0, seconds=seconds, connections=args.connections, threads=args.threads,
                        )  # fmt: skip
                        rounds[kind].append(result)
                        await settle(live[kind])
                for kind in kinds:
                    results[kind] = combined(rounds[kind])
                    print(f"{kind:>13}: {results[kind].requests_per_second:>9,.1f} requests/s", flush=True)
                if args.profile:
                    profile_lines = await profile(
                        args, live["graphql"], bodies["graphql"], headers, Path(logs)
                    )
            response_bytes = {
                kind: len(json.dumps(found, separators=(",", ":"))) for kind, found in answers.items()
            }
    rate = {kind: result.requests_per_second for kind, result in results.items()}
    return {
        "benchmark": "board",
        "query": QUERY,
        "peer_queries": {"postgraphile": POSTGRAPHILE_QUERY} if "postgraphile" in kinds else {},
        "data": {
            "deals": DEALS,
            "stages": STAGES,
            "owners": OWNERS,
            "contacts": CONTACTS,
            "per_stage": PER_STAGE,
        },
        "response": {**shape, "bytes": response_bytes["graphql"], "bytes_by_server": response_bytes},
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "loadgen": args.loadgen,
        "connections": args.connections,
        "threads": args.threads if args.loadgen == "wrk" else None,
        "duration_seconds": args.duration,
        "warmup_seconds": args.warmup,
        "rounds": args.rounds,
        "gc_threshold": args.gc_threshold,
        "servers": kinds,
        "results": {kind: asdict(result) for kind, result in results.items()},
        "ratio_graphql_over_raw": round(rate["graphql"] / rate["raw"], 4),
        "ratio_graphql_over_postgraphile": (
            round(rate["graphql"] / rate["postgraphile"], 4) if "postgraphile" in rate else None
        ),
        "ratio_postgraphile_over_raw": (
            round(rate["postgraphile"] / rate["raw"], 4) if "postgraphile" in rate else None
        ),
        "target_ratio": 0.6,
        "skipped": args.skipped,
        "profile": profile_lines or None,
    }


async def settle(server: Server, quiet: float = 0.02, limit: float = 15.0) -> None:
    """Wait until the server has finished what the load left in flight (its CPU time stops growing),
    so that work does not run into the next server's round."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(server.pid)
        await asyncio.sleep(0.25)
        if cpu_seconds(server.pid) - before < quiet * 0.25:
            return


def combined(rounds: list[Result]) -> Result:
    """One server's figures over its rounds: totals and rates over the rounds' summed time; p50 the
    median of the rounds' and p99 the highest (wrk reports no samples to merge)."""
    seconds = sum(r.seconds for r in rounds)
    requests = sum(r.requests for r in rounds)

    def share(name: str) -> float:
        return round(sum(getattr(r, name) * r.seconds for r in rounds) / seconds, 4)

    return Result(
        requests=requests,
        seconds=round(seconds, 3),
        requests_per_second=round(requests / seconds, 1),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=max(r.p99_ms for r in rounds),
        errors=sum(r.errors for r in rounds),
        server_tracebacks=sum(r.server_tracebacks for r in rounds),
        gc_share=share("gc_share"),
        server_cpu_share=share("server_cpu_share"),
        database_cpu_share=share("database_cpu_share"),
    )


def report(summary: dict[str, Any]) -> str:
    r = summary["response"]
    lines = [
        f"board: {r['columns']} columns, {r['deals']} deals, {r['contacts']} contacts, {r['bytes']:,} bytes",
        f"load: {summary['loadgen']}, {summary['connections']} connections, {summary['duration_seconds']} s each"
        f" in {summary['rounds']} interleaved rounds",
        f"{'server':<14}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'requests':>11}{'errors':>8}"
        f"{'server tracebacks':>19}{'time in gc':>12}{'server cpu':>12}{'db cpu':>8}",
    ]
    for kind in summary["servers"]:
        x = summary["results"][kind]
        lines.append(
            f"{kind:<14}{x['requests_per_second']:>12,.1f}{x['p50_ms']:>10.2f}{x['p99_ms']:>10.2f}"
            f"{x['requests']:>11,}{x['errors']:>8}{x['server_tracebacks']:>19}{x['gc_share']:>12.1%}"
            f"{x['server_cpu_share']:>12.2f}{x['database_cpu_share']:>8.2f}"
        )
    target = summary["target_ratio"]
    lines.append(f"ratio graphql/raw: {summary['ratio_graphql_over_raw']:.3f} (target >= {target})")
    if summary.get("ratio_graphql_over_postgraphile") is not None:
        lines.append(
            f"ratio graphql/postgraphile: {summary['ratio_graphql_over_postgraphile']:.3f} (target >= {target});"
            f" postgraphile/raw: {summary['ratio_postgraphile_over_raw']:.3f}"
        )
    for why in summary.get("skipped") or ():
        lines.append(f"note: {why}")
    if summary["loadgen"] == "httpx":
        lines.append("note: the httpx load generator is bound by its own CPU; install wrk for server figures")
    if summary["profile"]:
        lines += ["profile of the GraphQL server:", *summary["profile"]]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per server (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load first (default 3)")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="the timed load in rounds, each server in turn for duration/rounds seconds (default 5)",
    )
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "httpx"], default="auto")
    p.add_argument("--seed", type=int, default=1, help="random seed of the data (default 1)")
    p.add_argument(
        "--peer",
        action="append",
        choices=PEERS,
        default=[],
        help="also measure this peer on the same database: postgraphile (PostGraphile v4 + pg-aggregates)",
    )
    p.add_argument("--profile", action="store_true", help="also profile the GraphQL server with py-spy")
    p.add_argument("--profile-top", type=int, default=25, help="functions to list in the profile")
    p.add_argument(
        "--gc-threshold",
        type=int,
        help="experiment: in both servers, gc.freeze() after start-up and gc.set_threshold(N, 50, 100)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--serve", choices=[*KINDS, *PEERS], help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.dsn, args.port, args.gc_threshold)
        return 0
    args.loadgen = resolve_loadgen(args.loadgen)
    args.skipped = []
    if "postgraphile" in args.peer and (why := install_postgraphile()) is not None:
        print(why, flush=True)
        args.skipped.append(why)
        args.peer = [p for p in args.peer if p != "postgraphile"]
    args.py_spy = find_py_spy() if args.profile else None
    summary = asyncio.run(bench(args))
    print(report(summary))
    write_results(args.out, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
