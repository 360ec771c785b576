"""Subscription fan-out: one event to N `boardChanged` subscribers, against a minimal Node server.

Two servers in subprocesses, started once and kept for the whole run:

- **dealflow**: the real app (uvicorn, one worker, `ws_per_message_deflate` off), its subscribers
  users with view scope ALL, each connection authenticated by its own token;
- **node** (the reference): `bench/peers/node-fanout/server.mjs`, graphql 16 + graphql-ws + ws with an
  in-memory PubSub, serving the same `moveDeal` mutation and `boardChanged` subscription over the
  same data (the pipeline, its stages, the deal and its owner, read from dealflow's database), so
  both send the same `next` payload JSON (checked: the last event's payloads must be equal but for
  the sequence).

One client, `bench/peers/node-fanout/client.mjs` (Node, the `ws` package), measures both: it opens N
graphql-transport-ws connections, subscribes each once to

    boardChanged(pipelineId, after) { sequence type fromStageId deal { id name amount
                                       stage { id label } owner { id name } } }

sends `--warmup` untimed events, then `--events` timed ones, one at a time: a `moveDeal` over
HTTP, the next one when every subscriber has the last. Per event, from sending the mutation: the
time until the last subscriber had it (the figure compared), the first and the median, and the
mutation's response; each subscriber must have every event exactly once, in order. For each N the
servers take turns, `--rounds` times (the order alternating), so both see the same machine. Server
CPU per delivery: the server's CPU seconds over the timed events (mutations included) divided by
events x N. Ratios dealflow / node are from this one run.

    .venv/bin/python bench/fanout.py [--subscribers 100 1000 3000] [--events 20] [--rounds 2]
                                     [--warmup 3] [--profile]

Needs node and npm (skipped with a message without them); runs `npm ci` in bench/peers/node-fanout
when its node_modules is missing. `--profile` records the dealflow server with py-spy during the
timed events of the largest N (`.venv/bin/uv pip install py-spy`). DATABASE_URL: the PostgreSQL server
to use (a database is created and dropped there); unset, an embedded one in a temporary directory.
Results: printed, and written to bench/results/fanout.json. Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from common import (
    RESULTS_DIR,
    ROOT,
    Server,
    cpu_seconds,
    database_kind,
    dealflow_app,
    find_py_spy,
    fresh_database,
    gc_stats,
    machine,
    new_user,
    now_iso,
    postgres_server,
    running,
    sales_stages,
    serve_uvicorn,
    start_profile,
    stop_profile,
    write_results,
)

RESULTS = RESULTS_DIR / "fanout.json"
PEER = ROOT / "bench" / "peers" / "node-fanout"
SERVERS = ("dealflow", "node")
SUBSCRIPTION = """subscription($p: ID!, $a: String) {
  boardChanged(pipelineId: $p, after: $a) {
    sequence type fromStageId deal { id name amount stage { id label } owner { id name } }
  }
}"""
MOVE = """mutation($i: MoveDealInput!) {
  moveDeal(input: $i) { deal { id } userErrors { code message } }
}"""


# ---------------------------------------------------------------------------------------------
# The servers (run in subprocesses: `fanout.py --serve dealflow|node --dsn DSN --port PORT [--data F]`)


def serve(kind: str, dsn: str, port: int, data: str | None) -> None:
    if kind == "dealflow":
        serve_uvicorn(dealflow_app(dsn), port)
        return
    assert data is not None
    node = shutil.which("node") or "node"  # this process becomes node: its pid is the server's
    os.execv(node, [node, str(PEER / "server.mjs"), "--port", str(port), "--data", data])


def node_missing() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed: the Node reference cannot run (apt-get install nodejs npm)"
    if not (PEER / "node_modules").exists():
        print("npm ci in bench/peers/node-fanout …", flush=True)
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, capture_output=True, text=True
        )
        if done.returncode != 0:
            return f"npm ci failed in {PEER}:\n{done.stderr[-2000:]}"
    return None


# ---------------------------------------------------------------------------------------------
# The data: subscribers (view scope ALL), an admin who moves the deal, a pipeline, one deal


async def load_data(conn: asyncpg.Connection, users: int) -> dict[str, Any]:
    from db.pipelines import insert_pipeline

    _, admin_token = await new_user(conn, "admin@bench.example", "Admin", is_super_admin=True)
    tokens = [(await new_user(conn, f"viewer{i}@bench.example", f"Viewer {i}"))[1] for i in range(users)]
    owner_id, _ = await new_user(conn, "owner@bench.example", "Olive Owner")
    async with conn.transaction():
        pipeline = await insert_pipeline(
            conn,
            "Fan-out bench",
            sales_stages(),
        )
        row = await conn.fetchrow(
            "INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id)"
            " VALUES ('Fan-out deal', 12500, $1, $2, $3) RETURNING id, amount",
            pipeline.id,
            pipeline.stages[0].id,
            owner_id,
        )
    assert row is not None
    deal_id, amount = row["id"], row["amount"]
    stage = {s.id: shown("Stage", s.id) for s in pipeline.stages}
    return {
        "admin_token": admin_token,
        "tokens": tokens,
        "pipeline_id": shown("Pipeline", pipeline.id),
        "stage_ids": [stage[s.id] for s in pipeline.stages[:2]],
        "peer": {  # what the Node server serves: the same pipeline, deal and owner, with the same ids
            "pipelineId": shown("Pipeline", pipeline.id),
            "stages": [{"id": stage[s.id], "label": s.label} for s in pipeline.stages],
            "users": [{"id": shown("User", owner_id), "name": "Olive Owner"}],
            "deals": [
                {
                    "id": shown("Deal", deal_id),
                    "name": "Fan-out deal",
                    "amount": str(amount),
                    "stageId": stage[pipeline.stages[0].id],
                    "ownerId": shown("User", owner_id),
                }
            ],
            "sequence": 0,
        },
        "deal_id": shown("Deal", deal_id),
    }


def shown(kind: str, number: int) -> str:
    """An id as dealflow's answers show it (global ids; plain numbers on commits before them)."""
    try:
        from domain.ids import global_id
    except ImportError:
        return str(number)
    return global_id(kind, number)


# ---------------------------------------------------------------------------------------------
# One measurement: the client against one server


class Moves:
    """The deal moves back and forth between the first two stages; each move is one event."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.count = 0

    def next(self) -> dict[str, Any]:
        self.count += 1
        stage = self.data["stage_ids"][self.count % 2]
        return {
            "query": MOVE,
            "variables": {"i": {"dealId": str(self.data["deal_id"]), "stageId": str(stage)}},
        }


async def measure(
    server: Server,
    kind: str,
    n: int,
    args: argparse.Namespace,
    data: dict[str, Any],
    moves: Moves,
    pool: asyncpg.Pool,
    work: Path,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    after = str(await pool.fetchval("SELECT coalesce(max(sequence), 0) FROM events"))
    config = {
        "ws": server.ws_url,
        "http": server.url + "/graphql",
        "tokens": data["tokens"],
        "subscribers": n,
        "subscription": {"query": SUBSCRIPTION, "variables": {"p": str(data["pipeline_id"]), "a": after}},
        "trigger_token": data["admin_token"],
        "warmup": [moves.next() for _ in range(args.warmup)],
        "timed": [moves.next() for _ in range(args.events)],
        "timeoutMs": int(args.timeout * 1000),
        "pauseMs": args.pause_ms,
    }
    path = work / f"client-{kind}-{n}.json"
    path.write_text(json.dumps(config))
    client = await asyncio.create_subprocess_exec(
        "node", str(PEER / "client.mjs"), str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=PEER,
    )  # fmt: skip
    assert client.stdin is not None
    assert client.stdout is not None

    async def line() -> str:
        assert client.stdout is not None
        text = (await client.stdout.readline()).decode().strip()
        if not text or text.startswith("FAILED"):
            await client.wait()
            raise RuntimeError(f"client against {kind} with {n} subscribers: {text or 'exited'}")
        return text

    try:
        assert await line() == "READY"
        recording = await start_profile(args.py_spy, server.pid, profile_to) if profile_to else None
        gc_before = await gc_stats(server) if kind == "dealflow" else None
        cpu_before = cpu_seconds(server.pid)
        client.stdin.write(b"GO\n")
        result_line = await line()
        cpu = cpu_seconds(server.pid) - cpu_before
        gc_after = await gc_stats(server) if kind == "dealflow" else None
        profile = await stop_profile(recording, args.profile_top) if recording else None
        client.stdin.write(b"CLOSE\n")
        await client.stdin.drain()
        await client.wait()
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    result: dict[str, Any] = json.loads(result_line.removeprefix("RESULT "))
    result["server_cpu_seconds"] = round(cpu, 4)
    result["server_cpu_us_per_delivery"] = round(1e6 * cpu / (args.events * n), 2)
    if gc_before is not None and gc_after is not None:  # of that CPU, the garbage collector's
        result["server_gc_seconds"] = round(gc_after["seconds"] - gc_before["seconds"], 4)
    if profile is not None:
        result["profile"] = profile
    return result


def summarise(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    events = [e for run in runs for e in run["events"]]
    cpu = sum(run["server_cpu_seconds"] for run in runs)

    def median(key: str) -> float:
        return round(float(statistics.median(e[key] for e in events)), 2)

    return {
        "last_ms": median("last_ms"),
        "last_ms_per_round": [
            round(statistics.median(e["last_ms"] for e in run["events"]), 2) for run in runs
        ],
        "first_ms": median("first_ms"),
        "median_subscriber_ms": median("median_ms"),
        "response_ms": median("response_ms"),
        "last_ms_max": round(max(e["last_ms"] for e in events), 2),
        "server_cpu_us_per_delivery": round(1e6 * cpu / (len(events) * n), 2),
        "server_gc_share_of_cpu": round(sum(run.get("server_gc_seconds", 0.0) for run in runs) / cpu, 3)
        if cpu
        else None,
        "exact": all(run["exact"] for run in runs),
        "problems": [p for run in runs for p in run["problems"]][:10],
        "events": len(events),
    }


def same_payload(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def masked(payload: dict[str, Any]) -> str:
        event = dict(payload["boardChanged"])
        event["sequence"] = "?"
        return json.dumps(event, sort_keys=False)

    return masked(a) == masked(b)


async def compare(
    servers: dict[str, Server], n: int, args: argparse.Namespace, data: dict[str, Any], state: dict[str, Any]
) -> dict[str, Any]:
    """Both servers with N subscribers, taking turns for `--rounds` rounds; the figures and ratios."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SERVERS}
    for r in range(args.rounds):
        for kind in SERVERS if r % 2 == 0 else SERVERS[::-1]:
            profiled = args.py_spy and kind == "dealflow" and n == max(args.subscribers) and r == 0
            out = state["work"] / "profile.txt" if profiled else None
            run = await measure(servers[kind], kind, n, args, data, state["moves"][kind], state["pool"],
                                state["work"], out)  # fmt: skip
            if "profile" in run:
                state["profile"] = run.pop("profile")
            runs[kind].append(run)
            last = statistics.median(e["last_ms"] for e in run["events"])
            print(f"N={n:>5} round {r + 1} {kind:>8}: last subscriber {last:8.2f} ms"
                  f"  cpu/delivery {run['server_cpu_us_per_delivery']:7.2f} µs  exact={run['exact']}",
                  flush=True)  # fmt: skip
    figures = {kind: summarise(runs[kind], n) for kind in SERVERS}
    samples = [runs[kind][-1]["sample"] for kind in SERVERS]
    d, o = figures["dealflow"], figures["node"]
    return {
        **figures,
        "ratio_last": round(d["last_ms"] / o["last_ms"], 3),
        "ratio_cpu_per_delivery": round(d["server_cpu_us_per_delivery"] / o["server_cpu_us_per_delivery"], 3),
        "same_payload": same_payload(samples[0], samples[1]),
        "sample_payload": samples[0],
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    by_n: dict[str, Any] = {}
    with postgres_server() as server_dsn, tempfile.TemporaryDirectory(prefix="dealflow-fanout-") as tmp:
        work = Path(tmp)
        async with fresh_database(server_dsn) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                data = await load_data(conn, args.users)
            finally:
                await conn.close()
            peer_data = work / "peer.json"
            peer_data.write_text(json.dumps(data["peer"]))
            script = Path(__file__)
            async with (
                asyncpg.create_pool(dsn, min_size=1, max_size=2) as pool,
                running(script, "dealflow", dsn, work) as dealflow,
                running(script, "node", dsn, work, ["--data", str(peer_data)]) as node,
            ):
                state: dict[str, Any] = {
                    "work": work,
                    "pool": pool,
                    "moves": {k: Moves(data) for k in SERVERS},
                }
                for n in args.subscribers:
                    by_n[str(n)] = await compare({"dealflow": dealflow, "node": node}, n, args, data, state)
                tracebacks = dealflow.errors_logged()
    summary: dict[str, Any] = {
        "benchmark": "fanout",
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "node": args.node_version,
        "settings": {
            k: vars(args)[k] for k in ("subscribers", "events", "rounds", "warmup", "users", "pause_ms")
        },
        "subscription": SUBSCRIPTION,
        "by_subscribers": by_n,
        "dealflow_server_tracebacks": tracebacks,
        "targets": {"1000": "ratio_last <= 1.1", "3000": "ratio_last <= 1.0"},
    }
    if "profile" in state:
        summary["profile"] = state["profile"]
    return summary


def report(summary: dict[str, Any]) -> str:
    lines = ["", "| N | dealflow last ms | node last ms | ratio | first ms d/n | median ms d/n "
             "| mutation ms d/n | cpu µs/delivery d/n | cpu ratio | exact d/n |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for n, row in summary["by_subscribers"].items():
        d, o = row["dealflow"], row["node"]
        lines.append(
            f"| {int(n):,} | {d['last_ms']:.1f} | {o['last_ms']:.1f} | **{row['ratio_last']:.2f}** "
            f"| {d['first_ms']:.1f} / {o['first_ms']:.1f} | {d['median_subscriber_ms']:.1f} / "
            f"{o['median_subscriber_ms']:.1f} | {d['response_ms']:.1f} / {o['response_ms']:.1f} "
            f"| {d['server_cpu_us_per_delivery']:.1f} / {o['server_cpu_us_per_delivery']:.1f} "
            f"| {row['ratio_cpu_per_delivery']:.2f} | {d['exact']} / {o['exact']} |"
        )
    shares = ", ".join(
        f"{int(n):,}: {row['dealflow']['server_gc_share_of_cpu']:.1%}"
        for n, row in summary["by_subscribers"].items()
    )
    lines.append(f"dealflow's garbage collection, of its CPU over the timed events: {shares}")
    lines.append(f"same payload JSON: {all(r['same_payload'] for r in summary['by_subscribers'].values())}; "
                 f"dealflow server tracebacks: {summary['dealflow_server_tracebacks']}")  # fmt: skip
    if "profile" in summary:
        lines += ["", "dealflow profile (largest N, first round):", *summary["profile"]]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000, 3000], help="values of N")
    p.add_argument("--events", type=int, default=20, help="timed events per round (default 20)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per server and N (default 2)")
    p.add_argument("--warmup", type=int, default=3, help="untimed events before each round (default 3)")
    p.add_argument("--users", type=int, default=10, help="subscriber users, one token each (default 10)")
    p.add_argument("--pause-ms", type=int, default=50, help="pause before each timed event (default 50)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an event (default 60)")
    p.add_argument("--profile", action="store_true", help="py-spy on dealflow at the largest N")
    p.add_argument("--profile-top", type=int, default=30, help="functions to list in the profile")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.dsn, args.port, args.data)
        return 0
    missing = node_missing()
    if missing:
        print(f"fanout: skipped: {missing}")
        return 0
    args.node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    args.py_spy = find_py_spy() if args.profile else None
    if args.profile and args.py_spy is None:
        print("fanout: --profile needs py-spy: .venv/bin/uv pip install py-spy")
        return 2
    summary = asyncio.run(bench(args))
    print(report(summary))
    write_results(args.out, summary)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
