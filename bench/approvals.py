"""Deal approvals end to end: enter the approval stage, then approve, with 100 live subscribers.

One dealflow server (the real app, uvicorn, one worker) in a subprocess. A pipeline with an
approval process (two approvers, ANY). In one run, on two sets of `--deals` deals each:

- **baseline**: no subscribers; `--clients` concurrent HTTP clients (common.KeepAlive, one keep-alive
  connection each) move every deal into the
  approval stage (`moveDeal`, which starts a PENDING approval), then approve every one
  (`approveDeal`, the approvers taking turns);
- **subscribed**: the same with `--subscribers` WebSocket connections (graphql-transport-ws,
  common.RawSubscriber) each subscribed to `dealApprovalChanged(pipelineId, after: <head>)`.

Reported: moves/s and decisions/s (first request sent to last response); decisions/s end to end
(until every subscriber has every decision); and whether every subscriber got every approval event
of the run exactly once (checked against the outbox table). Delivery latency, p50/p99 over every
(event, subscriber) pair, measured three ways for `approval.decided` events: from the server's stamp
of the decision (`decisions { decidedAt }`, taken inside the deciding transaction, before it appends
its events and commits), from the client sending the `approveDeal` request, and from the client
receiving its response (negative when the event arrived first); for `approval.started`, from the
`moveDeal` response. Per phase also: the server's CPU and garbage-collection seconds, the embedded
PostgreSQL's CPU seconds, this client's CPU seconds, and how many statements waited for a lock on
average (sampled from pg_stat_activity every 10 ms). Subscribers keep the raw bytes with their
receipt times and decode them after the run, so the client's own CPU stays low.

    .venv/bin/python bench/approvals.py [--deals 500] [--subscribers 100] [--clients 8] [--profile]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, and written to bench/results/approvals.json.
Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from common import (
    RESULTS_DIR,
    KeepAlive,
    RawSubscriber,
    Server,
    cpu_seconds,
    database_cpu_seconds,
    database_kind,
    dealflow_app,
    find_py_spy,
    fresh_database,
    gc_stats,
    machine,
    new_user,
    now_iso,
    percentiles,
    postgres_server,
    running,
    sales_stages,
    serve_uvicorn,
    start_profile,
    stop_profile,
    write_results,
)

from domain.limits import parse_id

RESULTS = RESULTS_DIR / "approvals.json"
OWNERS = 10
WARMUP_DEALS = 20  # moved and approved first, untimed

ENABLE = """mutation($i: DealApprovalsInput!) {
  enableDealApprovals(input: $i) { pipeline { stages { id isApprovalStage } } userErrors { message } }
}"""
MOVE = """mutation($i: MoveDealInput!) {
  moveDeal(input: $i) { deal { id approval { id status } } userErrors { code message } }
}"""
APPROVE = """mutation($i: ApproveDealInput!) {
  approveDeal(input: $i) { approval { id status } userErrors { code message } }
}"""
SUBSCRIPTION = """subscription($p: ID, $a: String) {
  dealApprovalChanged(pipelineId: $p, after: $a) {
    sequence type action approval { id status decisions { decision decidedAt } }
  }
}"""


# ---------------------------------------------------------------------------------------------
# The server (run in a subprocess: `approvals.py --serve graphql --dsn DSN --port PORT`)


def serve(dsn: str, port: int) -> None:
    serve_uvicorn(dealflow_app(dsn), port)


# ---------------------------------------------------------------------------------------------
# The data


@dataclass
class Setup:
    admin_token: str
    approver_tokens: list[str]
    pipeline_id: int
    open_stage_id: int
    gate_id: int = 0
    warmup_deals: list[int] = field(default_factory=list)
    baseline_deals: list[int] = field(default_factory=list)
    subscribed_deals: list[int] = field(default_factory=list)


async def load_data(conn: asyncpg.Connection, deals: int, seed: int) -> Setup:
    """Users, a pipeline and 2 x `deals` (+ warm-up) deals, owned by reps, before the gate: batched."""
    from db.pipelines import insert_pipeline

    rng = random.Random(seed)
    _, admin_token = await new_user(conn, "admin@bench.example", "Admin", is_super_admin=True)
    approvers = [
        await new_user(conn, f"approver{i}@bench.example", f"Approver {i}", can_approve_deals=True)
        for i in (1, 2)
    ]
    async with conn.transaction():
        owner_ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO users (email, name)
                SELECT 'rep' || g || '@bench.example', 'Rep ' || g FROM generate_series(1, $1) g RETURNING id
                """,
                OWNERS,
            )
        ]
        pipeline = await insert_pipeline(
            conn,
            "Approvals bench",
            sales_stages(),
        )
        proposal = pipeline.stages[1].id
        deal_ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id)
                SELECT 'Deal ' || n, a, $1, $2, o
                  FROM unnest($3::numeric[], $4::bigint[]) WITH ORDINALITY AS u (a, o, n)
                 ORDER BY n
                RETURNING id
                """,
                pipeline.id,
                proposal,
                [rng.randrange(10, 2000) * 50 for _ in range(2 * deals + WARMUP_DEALS)],
                [rng.choice(owner_ids) for _ in range(2 * deals + WARMUP_DEALS)],
            )
        ]
    return Setup(
        admin_token=admin_token,
        approver_tokens=[token for _, token in approvers],
        pipeline_id=pipeline.id,
        open_stage_id=proposal,
        warmup_deals=deal_ids[:WARMUP_DEALS],
        baseline_deals=deal_ids[WARMUP_DEALS : WARMUP_DEALS + deals],
        subscribed_deals=deal_ids[WARMUP_DEALS + deals :],
    )


async def graphql(http: KeepAlive, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    status, raw = await http.post("/graphql", body, {"Authorization": f"Bearer {token}"})
    answer: dict[str, Any] = json.loads(raw)
    if status != 200 or answer.get("errors"):
        raise RuntimeError(f"{status}: {raw[:1000]!r}")
    data: dict[str, Any] = answer["data"]
    return data


async def enable_approvals(url: str, setup: Setup, approver_ids: Sequence[int]) -> None:
    async with KeepAlive(url) as http:
        data = await graphql(
            http, setup.admin_token, ENABLE,
            {"i": {"pipelineId": str(setup.pipeline_id), "approverIds": [str(i) for i in approver_ids],
                   "mode": "ANY", "note": "Check the discount.", "position": 2}},
        )  # fmt: skip
    payload = data["enableDealApprovals"]
    if payload["userErrors"]:
        raise RuntimeError(f"enableDealApprovals: {payload['userErrors']}")
    setup.gate_id = parse_id(next(s["id"] for s in payload["pipeline"]["stages"] if s["isApprovalStage"]))


# ---------------------------------------------------------------------------------------------
# Mutations from concurrent clients


@dataclass
class Sent:
    deal_id: int
    approval_id: int
    sent: float  # time.time() the request was sent
    answered: float  # and its response received


@dataclass
class Phase:
    name: str
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_seconds: float
    server_gc_seconds: float
    database_cpu_seconds: float
    client_cpu_seconds: float
    lock_waits: dict[str, Any]  # transactions waiting for a lock, on average over 10 ms samples


class LockSampler:
    """Samples pg_stat_activity every 10 ms during a phase: how many statements wait for a lock, which."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples = 0
        self.waiting = 0
        self.on: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LockSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while True:
                rows = await conn.fetch(
                    """
                    SELECT a.query FROM pg_stat_activity a
                     WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()
                    """
                )
                self.samples += 1
                self.waiting += len(rows)
                self.on.update(" ".join(r["query"].split())[:70] for r in rows)
                await asyncio.sleep(0.01)
        finally:
            await conn.close()

    def summary(self) -> dict[str, Any]:
        n = max(1, self.samples)
        return {
            "mean_waiting": round(self.waiting / n, 2),
            "on": {k: round(v / n, 2) for k, v in self.on.most_common(4)},
        }


async def run_phase(
    name: str, live: Server, deals: Sequence[int], clients: int, request: Any, dsn: str
) -> tuple[Phase, list[Sent]]:
    """`clients` workers, each with one keep-alive connection, taking deals from a shared queue."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for deal_id in deals:
        queue.put_nowait(deal_id)
    sent: list[Sent] = []

    async def worker(n: int) -> None:
        async with KeepAlive(live.url) as http:
            while not queue.empty():
                deal_id = queue.get_nowait()
                t0 = time.time()
                approval_id = await request(http, n, deal_id)
                sent.append(Sent(deal_id, approval_id, t0, time.time()))

    cpu0, gc0, client0 = cpu_seconds(live.pid), (await gc_stats(live))["seconds"], time.process_time()
    db0 = await asyncio.to_thread(database_cpu_seconds)
    start = time.time()
    async with LockSampler(dsn) as locks:
        await asyncio.gather(*(worker(n) for n in range(clients)))
    seconds = max(s.answered for s in sent) - start
    cpu1, gc1, client1 = cpu_seconds(live.pid), (await gc_stats(live))["seconds"], time.process_time()
    db1 = await asyncio.to_thread(database_cpu_seconds)
    p50, p99 = percentiles([s.answered - s.sent for s in sent])
    phase = Phase(
        name=name,
        requests=len(sent),
        seconds=round(seconds, 3),
        per_second=round(len(sent) / seconds, 1),
        p50_ms=round(p50 * 1000, 2),
        p99_ms=round(p99 * 1000, 2),
        server_cpu_seconds=round(cpu1 - cpu0, 2),
        server_gc_seconds=round(gc1 - gc0, 2),
        database_cpu_seconds=round(db1 - db0, 2),
        client_cpu_seconds=round(client1 - client0, 2),
        lock_waits=locks.summary(),
    )
    return phase, sent


def mover(setup: Setup) -> Any:
    async def move(http: KeepAlive, n: int, deal_id: int) -> int:
        data = await graphql(
            http, setup.admin_token, MOVE, {"i": {"dealId": str(deal_id), "stageId": str(setup.gate_id)}}
        )
        payload = data["moveDeal"]
        if payload["userErrors"] or payload["deal"]["approval"]["status"] != "PENDING":
            raise RuntimeError(f"moveDeal {deal_id}: {payload}")
        return parse_id(payload["deal"]["approval"]["id"])

    return move


def approver(setup: Setup) -> Any:
    async def approve(http: KeepAlive, n: int, deal_id: int) -> int:
        token = setup.approver_tokens[n % len(setup.approver_tokens)]
        data = await graphql(http, token, APPROVE, {"i": {"dealId": str(deal_id), "message": "OK"}})
        payload = data["approveDeal"]
        if payload["userErrors"] or payload["approval"]["status"] != "APPROVED":
            raise RuntimeError(f"approveDeal {deal_id}: {payload}")
        return parse_id(payload["approval"]["id"])

    return approve


# ---------------------------------------------------------------------------------------------
# Subscribers


@dataclass
class Delivery:
    subscriber: int
    sequence: int
    type: str
    approval_id: int
    received: float
    decided_at: float | None  # the server's stamp of an approval.decided event


def parse(subscribers: Sequence[RawSubscriber]) -> tuple[list[Delivery], list[str]]:
    deliveries: list[Delivery] = []
    problems: list[str] = []
    for i, sub in enumerate(subscribers):
        for received, raw in sub.frames():
            message = json.loads(raw)
            if message.get("type") != "next":
                if message.get("type") not in ("ping", "pong"):
                    problems.append(f"subscriber {i}: {message}")
                continue
            if message["payload"].get("errors"):
                problems.append(f"subscriber {i}: {message['payload']['errors']}")
                continue
            event = message["payload"]["data"]["dealApprovalChanged"]
            approval = event["approval"]
            stamps = [d["decidedAt"] for d in approval["decisions"] if d["decidedAt"]]
            decided_at = datetime.fromisoformat(stamps[0]).timestamp() if stamps else None
            deliveries.append(
                Delivery(
                    i, int(event["sequence"]), event["type"], parse_id(approval["id"]), received, decided_at
                )
            )
    return deliveries, problems


# ---------------------------------------------------------------------------------------------
# The run


async def wait_until_delivered(
    subscribers: Sequence[RawSubscriber], frames_each: int, timeout: float
) -> float:
    """Wait until every subscriber holds `frames_each` frames (or the timeout); the time it took."""
    start = time.time()
    while time.time() - start < timeout:
        if all(s.received >= frames_each for s in subscribers):
            break
        await asyncio.sleep(0.05)
    return time.time() - start


def ms(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = percentiles(values)
    return {
        "p50_ms": round(p50 * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="dealflow-bench-logs-") as logs:
        async with fresh_database(server) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                setup = await load_data(conn, args.deals, args.seed)
                approver_ids = [
                    r["id"]
                    for r in await conn.fetch("SELECT id FROM users WHERE can_approve_deals ORDER BY id")
                ]
            finally:
                await conn.close()
            async with running(__file__, "graphql", dsn, Path(logs)) as live:
                await enable_approvals(live.url, setup, approver_ids)
                # Warm up (caches, connections): not timed.
                await run_phase("warm-up moves", live, setup.warmup_deals, args.clients, mover(setup), dsn)
                await run_phase(
                    "warm-up decisions", live, setup.warmup_deals, args.clients, approver(setup), dsn
                )

                phases: dict[str, Phase] = {}
                phases["baseline moves"], _ = await run_phase(
                    "baseline moves", live, setup.baseline_deals, args.clients, mover(setup), dsn
                )
                phases["baseline decisions"], _ = await run_phase(
                    "baseline decisions", live, setup.baseline_deals, args.clients, approver(setup), dsn
                )
                print(f"baseline: {phases['baseline decisions'].per_second:,.1f} decisions/s", flush=True)

                conn = await asyncpg.connect(dsn)
                try:
                    head: int = await conn.fetchval("SELECT sequence FROM event_head")
                finally:
                    await conn.close()
                tokens = [setup.admin_token, *setup.approver_tokens]
                variables = {"p": str(setup.pipeline_id), "a": str(head)}
                subscribers = [
                    await RawSubscriber.open(live.ws_url, tokens[i % len(tokens)], SUBSCRIPTION, variables)
                    for i in range(args.subscribers)
                ]
                await asyncio.sleep(1.0)  # every subscription set up on the server before the first event

                recording = (
                    await start_profile(args.py_spy, live.pid, Path(logs) / "approvals.pyspy.txt")
                    if args.py_spy
                    else None
                )
                n = len(setup.subscribed_deals)
                phases["subscribed moves"], moves = await run_phase(
                    "subscribed moves", live, setup.subscribed_deals, args.clients, mover(setup), dsn
                )
                moves_delivered = await wait_until_delivered(subscribers, n, args.timeout)
                start_decisions = time.time()
                phases["subscribed decisions"], decisions = await run_phase(
                    "subscribed decisions", live, setup.subscribed_deals, args.clients, approver(setup), dsn
                )
                all_delivered = await wait_until_delivered(subscribers, 2 * n, args.timeout)
                end_to_end = time.time() - start_decisions
                profile_lines = await stop_profile(recording, args.profile_top) if recording else []
                print(f"subscribed: {phases['subscribed decisions'].per_second:,.1f} decisions/s", flush=True)
                await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now
                for sub in subscribers:
                    sub.close()

            conn = await asyncpg.connect(dsn)
            try:
                expected = [
                    r["sequence"]
                    for r in await conn.fetch(
                        """
                        SELECT sequence FROM events
                         WHERE sequence > $1 AND pipeline_id = $2 AND type LIKE 'approval.%' ORDER BY sequence
                        """,
                        head,
                        setup.pipeline_id,
                    )
                ]
            finally:
                await conn.close()

    deliveries, problems = parse(subscribers)
    expected_set = set(expected)
    per_subscriber: dict[int, list[int]] = {i: [] for i in range(len(subscribers))}
    for d in deliveries:
        per_subscriber[d.subscriber].append(d.sequence)
    duplicates = sum(len(seqs) - len(set(seqs)) for seqs in per_subscriber.values())
    missing = sum(len(expected_set - set(seqs)) for seqs in per_subscriber.values())
    unexpected = sum(len(set(seqs) - expected_set) for seqs in per_subscriber.values())
    in_order = sum(seqs == sorted(seqs) for seqs in per_subscriber.values())
    complete = sum(
        Counter(seqs) == Counter(expected) for seqs in per_subscriber.values()
    )  # exactly once: every expected sequence, once

    answered = {s.approval_id: s.answered for s in moves}
    decided_answered = {s.approval_id: s.answered for s in decisions}
    decided_sent = {s.approval_id: s.sent for s in decisions}
    decided = [d for d in deliveries if d.type == "approval.decided"]
    started = [d for d in deliveries if d.type == "approval.started"]
    latency = {
        "decided_from_server_stamp": ms(
            [d.received - d.decided_at for d in decided if d.decided_at is not None]
        ),
        "decided_from_request_sent": ms(
            [d.received - decided_sent[d.approval_id] for d in decided if d.approval_id in decided_sent]
        ),
        "decided_from_response": ms(
            [
                d.received - decided_answered[d.approval_id]
                for d in decided
                if d.approval_id in decided_answered
            ]
        ),
        "started_from_response": ms(
            [d.received - answered[d.approval_id] for d in started if d.approval_id in answered]
        ),
    }
    sub_decisions = phases["subscribed decisions"]
    return {
        "benchmark": "approvals",
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "deals": n,
        "subscribers": len(subscribers),
        "clients": args.clients,
        "phases": {name: vars(phase) for name, phase in phases.items()},
        "decisions_per_second": sub_decisions.per_second,
        "decisions_per_second_end_to_end": round(n / end_to_end, 1),
        "baseline_decisions_per_second": phases["baseline decisions"].per_second,
        "seconds_until_moves_delivered": round(moves_delivered, 3),
        "seconds_until_decisions_delivered": round(all_delivered, 3),
        "latency": latency,
        "delivery": {
            "expected_events_each": len(expected),
            "deliveries": len(deliveries),
            "subscribers_exactly_once": complete,
            "subscribers_in_order": in_order,
            "duplicates": duplicates,
            "missing": missing,
            "unexpected": unexpected,
            "problems": problems[:10],
        },
        "targets": {"decisions_per_second": 500, "p99_ms": 100},
        "profile": profile_lines or None,
    }


def report(s: dict[str, Any]) -> str:
    lines = [
        f"{s['deals']} deals per run, {s['clients']} concurrent clients, {s['subscribers']} subscribers in the "
        "subscribed run",
        f"{'phase':<22}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'server cpu s':>14}{'gc s':>7}"
        f"{'database cpu s':>16}{'client cpu s':>14}{'lock waits':>13}",
    ]
    for name, p in s["phases"].items():
        lines.append(
            f"{name:<22}{p['per_second']:>12,.1f}{p['p50_ms']:>10.2f}{p['p99_ms']:>10.2f}"
            f"{p['server_cpu_seconds']:>14.2f}{p['server_gc_seconds']:>7.2f}{p['database_cpu_seconds']:>16.2f}"
            f"{p['client_cpu_seconds']:>14.2f}{p['lock_waits']['mean_waiting']:>13.2f}"
        )
    lines.append(
        f"decisions/s: {s['decisions_per_second']:,.1f} (responses), {s['decisions_per_second_end_to_end']:,.1f} "
        f"(until every subscriber had every decision); baseline without subscribers "
        f"{s['baseline_decisions_per_second']:,.1f}; target >= {s['targets']['decisions_per_second']}"
    )
    for name, x in s["latency"].items():
        lines.append(f"latency {name:<28} p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms, max {x['max_ms']} ms")
    d = s["delivery"]
    lines.append(
        f"delivery: {d['subscribers_exactly_once']}/{s['subscribers']} subscribers got all {d['expected_events_each']} "
        f"events exactly once ({d['subscribers_in_order']} in order); duplicates {d['duplicates']}, missing "
        f"{d['missing']}, unexpected {d['unexpected']}"
    )
    lines += [f"  problem: {p}" for p in d["problems"]]
    if s["profile"]:
        lines += ["profile of the server during the subscribed run:", *s["profile"]]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--deals", type=int, default=500, help="deals per run (default 500)")
    p.add_argument("--subscribers", type=int, default=100, help="WebSocket subscribers (default 100)")
    p.add_argument(
        "--clients", type=int, default=8, help="concurrent HTTP clients sending mutations (default 8)"
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for deliveries (default 300)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the data (default 1)")
    p.add_argument(
        "--profile", action="store_true", help="profile the server during the subscribed run (py-spy)"
    )
    p.add_argument("--profile-top", type=int, default=25, help="functions to list in the profile")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--serve", choices=["graphql"], help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.dsn, args.port)
        return 0
    args.py_spy = find_py_spy() if args.profile else None
    summary = uvloop.run(bench(args))  # the client's loop as lean as the server's
    print(report(summary))
    write_results(args.out, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
