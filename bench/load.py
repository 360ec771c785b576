"""Mixed load on two `dealflow serve` processes with 1,000 live subscribers, checked event by event.

Two real `dealflow serve` processes (different ports) on one PostgreSQL, events between them over
`BROADCAST_URL` (`redis://127.0.0.1:6379/0` by default, `--broadcast postgres` for LISTEN/NOTIFY on
the application's database; `--broadcast memory`, for comparison: no broker, each process's relay
reads the outbox itself). Data: a pipeline (Qualified, Proposal, Won, Lost) with an approval
stage after Proposal (two approvers, mode ANY, enabled over HTTP), `--deals` deals owned by 20 reps,
8 managers. Users: managers, approvers and the admin see ALL; reps see and edit OWNED.

- `--clients` (200) concurrent HTTP clients (asyncio + httpx, keep-alive, half on each process),
  each sending back to back for `--duration` seconds: 70% `board(perStage: 20)` (managers, and
  reps who see their own deals), 20% `moveDeal` by the deal's owner with `expectedVersion`
  (between Qualified and Proposal, into the approval stage whenever fewer than `--backlog`
  approvals are pending, and back out of it once decided), 10% decisions on pending deals by an
  approver (75% `approveDeal`, 25% `requestDealChanges`; in `--race` of them both approvers decide
  the same deal at once, and the loser must be refused). A deal is in one client's hands at a time,
  so the expected state of every deal is known and each committed change is known by its key.
- `--subscribers` (1,000) WebSocket subscribers (graphql-transport-ws, common.RawSubscriber, which
  keeps the raw bytes and decodes them after the run, in a separate process of their own), half on
  each server, alternately `boardChanged(pipelineId)` and `dealApprovalChanged(pipelineId)`, all with
  `after` = the outbox head before they connect; 90% are managers, approvers or the admin (ALL), 10%
  reps (OWNED: only their deals' events). A connection the server closes is reported as a problem.

Per request: latency and outcome. "errors": HTTP status other than 200, GraphQL errors, transport
errors and timeouts, and userErrors that are not business refusals; "refused": VERSION_CONFLICT and
APPROVAL_* userErrors (expected for the losers of `--race`; any other is listed). Delivery latency:
each subscriber's receipt time minus the event row's `created_at` (PostgreSQL's `now()`: the start of
the transaction that appended it; same machine, same clock), and, second, minus the time the client
received the response of the mutation that caused it (negative when the event came first).
Afterwards, from the events table: every committed change (move, approval started, decision) has
exactly one event and every event one change; every subscriber received exactly the events of its
subscription in its scope, each once, in order.

Baseline in the same run, first: one client sends the same mix alone to one process for
`--baseline` seconds, with 10 subscribers, checked the same way (latency and delivery unloaded).
CPU seconds per second of each server, the subscriber process, the embedded PostgreSQL and the HTTP
clients are reported for the load and for the time after it until every subscriber had everything
(and sampled every 2 s). This machine's few cores run all of it: the figures are for this machine.

    .venv/bin/python bench/load.py [--duration 60] [--clients 200] [--subscribers 1000]
                                   [--broadcast redis|postgres|memory] [--deals 2000]

DATABASE_URL: the server to use (a database is created and dropped there); unset, an embedded
PostgreSQL in a temporary directory. Results: printed, written to bench/results/load.json, and
drawn to bench/results/load.png (when matplotlib is installed: `.venv/bin/uv pip install -e '.[bench]'`).
Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import (
    RESULTS_DIR,
    ROOT,
    RawSubscriber,
    cpu_seconds,
    database_cpu_seconds,
    database_kind,
    free_port,
    fresh_database,
    machine,
    new_user,
    now_iso,
    percentiles,
    postgres_server,
    sales_stages,
    write_results,
)

from domain.limits import parse_id

RESULTS = RESULTS_DIR / "load.json"
REDIS_URL = "redis://127.0.0.1:6379/0"
REPS, MANAGERS = 20, 8
PER_STAGE = 20
MIX = (("board", 0.7), ("move", 0.2), ("decide", 0.1))
REFUSALS = ("VERSION_CONFLICT", "APPROVAL_")  # business refusals: not errors
ERROR_RATE_TARGET = 0.001
BASELINE_SUBSCRIBERS = 10

ENABLE = """mutation($i: DealApprovalsInput!) {
  enableDealApprovals(input: $i) { pipeline { stages { id isApprovalStage } } userErrors { message } }
}"""
BOARD = """query Board($p: ID!, $n: Int!) {
  board(pipelineId: $p, perStage: $n) {
    columns { stage { id label } totalCount totalAmount
              deals { edges { node { id name amount version latestApprovalStatus owner { id name } } }
                      pageInfo { hasNextPage endCursor } } }
  }
}"""
MOVE = """mutation($i: MoveDealInput!) {
  moveDeal(input: $i) { deal { id version approval { id status } } userErrors { code message } }
}"""
APPROVE = """mutation($i: ApproveDealInput!) {
  approveDeal(input: $i) { approval { id status } userErrors { code message } }
}"""
REQUEST_CHANGES = """mutation($i: RequestDealChangesInput!) {
  requestDealChanges(input: $i) { approval { id status } userErrors { code message } }
}"""
SUBSCRIPTIONS = {
    "board": """subscription($p: ID!, $a: String) {
  boardChanged(pipelineId: $p, after: $a) { sequence type fromStageId deal { id version latestApprovalStatus } }
}""",
    "approval": """subscription($p: ID, $a: String) {
  dealApprovalChanged(pipelineId: $p, after: $a) { sequence type action approval { id status } }
}""",
}
PREFIX = {"board": "deal.", "approval": "approval."}


# ---------------------------------------------------------------------------------------------
# Two `dealflow serve` processes


@dataclass
class Process:
    url: str
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def log_problems(self) -> tuple[int, list[str]]:
        """Tracebacks and ERROR lines in its log: how many, and the first few distinct lines."""
        lines = self.log.read_text(errors="replace").splitlines()
        bad = [line for line in lines if "Traceback" in line or "ERROR" in line or "Error:" in line]
        return len(bad), list(dict.fromkeys(line[:300] for line in bad))[:8]


def stop_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group, SIGKILL after 15 s."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(5)


@contextlib.asynccontextmanager
async def cluster(dsn: str, broadcast_url: str, logs: Path, count: int) -> AsyncIterator[list[Process]]:
    procs: list[Process] = []
    try:
        for n in range(count):
            port = free_port()
            log = logs / f"server{n}.log"
            env = {
                **os.environ,
                "DATABASE_URL": dsn,
                "BROADCAST_URL": broadcast_url,
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "DEALFLOW_ENV": "production",
                # A budget the load never reaches: each simulated user sends far more than a client
                # may (at 10,000 points a minute, 54% of the load was 429s); the limiter still runs.
                "RATE_LIMIT_POINTS": str(2**31 - 1),
            }
            with log.open("wb") as out:
                popen = subprocess.Popen(  # noqa: ASYNC220 (started once, stopped in a thread)
                    [sys.executable, "-m", "dealflow.cli", "serve"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            procs.append(Process(f"http://127.0.0.1:{port}", log, popen))
        async with httpx.AsyncClient(timeout=2) as http:
            for proc in procs:
                deadline = time.monotonic() + 60
                while True:
                    if proc.popen.poll() is not None:
                        raise RuntimeError(f"server exited:\n{proc.log.read_text()[-3000:]}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(proc.url + "/healthz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"server did not start:\n{proc.log.read_text()[-3000:]}")
                    await asyncio.sleep(0.1)
        yield procs
    finally:
        await asyncio.gather(*(asyncio.to_thread(stop_group, p.popen) for p in procs))


# ---------------------------------------------------------------------------------------------
# The data, and what the clients know of each deal


@dataclass
class Deal:
    id: int
    owner_token: str
    stage: int
    version: int
    approval_id: int | None = None
    status: str | None = None


@dataclass
class Setup:
    pipeline_id: int
    stages: dict[str, int]  # qualified, proposal, gate
    admin_token: str
    approver_ids: list[int]
    approver_tokens: list[str]
    readers: list[tuple[int, str, str]]  # (user id, token, scope): managers, approvers, admin, reps
    deals: list[Deal]


async def load_data(conn: asyncpg.Connection, deals: int, seed: int) -> Setup:
    from db.pipelines import insert_pipeline
    from domain.records import Scope

    rng = random.Random(seed)
    admin_id, admin_token = await new_user(conn, "admin@load.example", "Admin", is_super_admin=True)
    approvers = [
        await new_user(conn, f"approver{i}@load.example", f"Approver {i}", can_approve_deals=True)
        for i in (1, 2)
    ]
    managers = [await new_user(conn, f"manager{i}@load.example", f"Manager {i}") for i in range(MANAGERS)]
    reps = [
        await new_user(
            conn, f"rep{i}@load.example", f"Rep {i}", view_scope=Scope.OWNED, edit_scope=Scope.OWNED
        )
        for i in range(REPS)
    ]
    async with conn.transaction():
        pipeline = await insert_pipeline(
            conn,
            "Load bench",
            sales_stages(),
        )
        stage_ids = [pipeline.stages[0].id, pipeline.stages[1].id]
        owners = [rng.randrange(REPS) for _ in range(deals)]
        stages = [rng.choice(stage_ids) for _ in range(deals)]
        rows = await conn.fetch(
            """
            INSERT INTO deals (name, amount, pipeline_id, stage_id, owner_id)
            SELECT 'Deal ' || n, a, $1, s, o
              FROM unnest($2::numeric[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS u (a, o, s, n)
             ORDER BY n
            RETURNING id, stage_id, owner_id, version
            """,
            pipeline.id,
            [rng.randrange(10, 2000) * 50 for _ in range(deals)],
            [reps[o][0] for o in owners],
            stages,
        )
    token_of = {user_id: token for user_id, token in reps}
    return Setup(
        pipeline_id=pipeline.id,
        stages={"qualified": stage_ids[0], "proposal": stage_ids[1]},
        admin_token=admin_token,
        approver_ids=[i for i, _ in approvers],
        approver_tokens=[t for _, t in approvers],
        readers=[(i, t, "ALL") for i, t in [*managers, *approvers, (admin_id, admin_token)]]
        + [(i, t, "OWNED") for i, t in reps],
        deals=[Deal(r["id"], token_of[r["owner_id"]], r["stage_id"], r["version"]) for r in rows],
    )


async def enable_approvals(url: str, setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": ENABLE,
                "variables": {
                    "i": {
                        "pipelineId": str(setup.pipeline_id),
                        "approverIds": [str(i) for i in setup.approver_ids],
                        "mode": "ANY",
                        "note": "Check the discount.",
                        "position": 2,
                    }
                },
            },
            headers={"Authorization": f"Bearer {setup.admin_token}"},
        )
    payload = response.json()["data"]["enableDealApprovals"]
    if payload["userErrors"]:
        raise RuntimeError(f"enableDealApprovals: {payload['userErrors']}")
    setup.stages["gate"] = parse_id(
        next(s["id"] for s in payload["pipeline"]["stages"] if s["isApprovalStage"])
    )


class Deals:
    """The deals no client holds, by what may be done next: `open` (in Qualified or Proposal: moved
    between them or into the approval stage), `pending` (decided on) and `decided` (moved back out)."""

    def __init__(self, deals: Sequence[Deal], rng: random.Random) -> None:
        self.rng = rng
        self.open: list[Deal] = []
        self.pending: list[Deal] = []
        self.decided: list[Deal] = []
        self.entering = 0  # moves into the approval stage in flight
        self.retired: list[Deal] = []  # a request failed: state unknown, out of play
        for deal in deals:
            self.put(deal)

    def take(self, pool: list[Deal]) -> Deal | None:
        if not pool:
            return None
        i = self.rng.randrange(len(pool))
        pool[i], pool[-1] = pool[-1], pool[i]
        return pool.pop()

    def put(self, deal: Deal, gate: int | None = None) -> None:
        if gate is None or deal.stage != gate:
            self.open.append(deal)
        elif deal.status == "PENDING":
            self.pending.append(deal)
        else:
            self.decided.append(deal)


# ---------------------------------------------------------------------------------------------
# The mix


@dataclass(slots=True)
class Request:
    op: str
    sent: float  # time.time()
    seconds: float
    outcome: str  # ok | refused | error
    detail: str = ""


@dataclass
class Ledger:
    """What the clients did, and the changes they know were committed, by the key of their event."""

    requests: list[Request] = field(default_factory=list)
    moved: dict[tuple[int, int], float] = field(default_factory=dict)  # (deal, version) -> response time
    started: dict[int, float] = field(default_factory=dict)  # approval id -> response time
    decided: dict[int, float] = field(default_factory=dict)  # approval id -> response time
    uncertain: set[int] = field(default_factory=set)  # deals whose last request failed (may have committed)
    unexpected_refusals: Counter[str] = field(default_factory=Counter)
    race_outcomes: Counter[str] = field(default_factory=Counter)
    starved: int = 0  # decisions wanted while nothing was pending (a move into the gate instead)


class Failed(Exception):
    pass


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


async def call(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any], root: str) -> Any:
    try:
        response = await http.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise Failed(f"{type(exc).__name__}: {exc}"[:200]) from None
    if response.status_code != 200:
        raise Failed(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    if body.get("errors"):
        raise Failed(f"GraphQL errors: {json.dumps(body['errors'])[:300]}")
    payload = body["data"][root]
    errors = payload.get("userErrors") if isinstance(payload, dict) else None
    if errors:
        code, message = errors[0].get("code") or "", errors[0].get("message") or ""
        if code.startswith(REFUSALS):
            raise Refused(code, message)
        raise Failed(f"userError {code}: {message}"[:300])
    return payload


class Mix:
    def __init__(
        self, setup: Setup, deals: Deals, ledger: Ledger, rng: random.Random, args: argparse.Namespace
    ) -> None:
        self.setup, self.deals, self.ledger, self.rng = setup, deals, ledger, rng
        self.backlog, self.race = args.backlog, args.race
        self.readers_all = [r for r in setup.readers if r[2] == "ALL"]
        self.readers_owned = [r for r in setup.readers if r[2] == "OWNED"]

    async def timed(self, op: str, coro: Any) -> tuple[str, str, Any]:
        sent, t0 = time.time(), time.perf_counter()
        outcome, detail, value = "ok", "", None
        try:
            value = await coro
        except Refused as exc:
            outcome, detail = "refused", exc.code
        except Failed as exc:
            outcome, detail = "error", str(exc)
        except Exception as exc:  # a malformed answer: an error too
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
        self.ledger.requests.append(Request(op, sent, time.perf_counter() - t0, outcome, detail))
        return outcome, detail, value

    async def step(self, http: httpx.AsyncClient) -> None:
        r, cumulative = self.rng.random(), 0.0
        kind = MIX[-1][0]
        for name, share in MIX:
            cumulative += share
            if r < cumulative:
                kind = name
                break
        if kind == "board":
            await self.read(http)
        elif kind == "move":
            await self.move(http)
        else:
            await self.decide(http)

    async def read(self, http: httpx.AsyncClient) -> None:
        readers = self.readers_owned if self.rng.random() < 0.2 else self.readers_all
        _, token, _ = self.rng.choice(readers)
        variables = {"p": str(self.setup.pipeline_id), "n": PER_STAGE}
        await self.timed("board", call(http, token, BOARD, variables, "board"))

    async def move(self, http: httpx.AsyncClient, *, enter: bool = False) -> None:
        d, stages = self.deals, self.setup.stages
        if enter or len(d.pending) + d.entering < self.backlog:
            deal, op, to = d.take(d.open), "enter_approval", stages["gate"]
        elif d.decided and self.rng.random() < 0.5:
            deal, op, to = d.take(d.decided), "leave_approval", stages["proposal"]
        else:
            deal, op, to = d.take(d.open), "move", 0
        if deal is None:
            return
        if op == "move":
            to = stages["proposal"] if deal.stage == stages["qualified"] else stages["qualified"]
        d.entering += op == "enter_approval"
        variables = {"i": {"dealId": str(deal.id), "stageId": str(to), "expectedVersion": deal.version}}
        outcome, detail, payload = await self.timed(
            op, call(http, deal.owner_token, MOVE, variables, "moveDeal")
        )
        d.entering -= op == "enter_approval"
        if outcome == "error":
            self.retire(deal)
            return
        if outcome == "ok":
            deal.stage, deal.version = to, int(payload["deal"]["version"])
            self.ledger.moved[(deal.id, deal.version)] = time.time()
            approval = payload["deal"]["approval"]
            if op == "enter_approval":
                if not approval or approval["status"] != "PENDING":
                    self.ledger.unexpected_refusals[f"enter_approval gave {approval}"] += 1
                else:
                    deal.approval_id, deal.status = parse_id(approval["id"]), "PENDING"
                    self.ledger.started[deal.approval_id] = time.time()
        else:  # nothing changed, but the deal was not where it was thought to be: out of play
            self.ledger.unexpected_refusals[f"{op}: {detail}"] += 1
            self.retire(deal)
            return
        d.put(deal, stages["gate"])

    async def decide(self, http: httpx.AsyncClient) -> None:
        d = self.deals
        deal = d.take(d.pending)
        if deal is None:
            self.ledger.starved += 1
            await self.move(http, enter=True)
            return
        first = self.rng.randrange(2)
        voters = [first, 1 - first] if self.rng.random() < self.race else [first]
        results = await asyncio.gather(*(self.vote(http, deal, n) for n in voters))
        errors = [r for r in results if r[0] == "error"]
        wins = [r for r in results if r[0] == "ok"]
        if errors:
            self.retire(deal)
            return
        if len(voters) == 2:
            self.ledger.race_outcomes[f"{len(wins)} won, {2 - len(wins)} refused"] += 1
            if len(wins) == 1:
                loser = next(r for r in results if r[0] == "refused")
                self.ledger.race_outcomes[f"loser refused with {loser[1]}"] += 1
        else:
            for outcome, detail, _ in results:
                if outcome == "refused":
                    self.ledger.unexpected_refusals[f"decision: {detail}"] += 1
        if wins:
            assert deal.approval_id is not None
            deal.status = wins[0][2]["approval"]["status"]
            self.ledger.decided[deal.approval_id] = time.time()
        d.put(deal, self.setup.stages["gate"])

    async def vote(self, http: httpx.AsyncClient, deal: Deal, approver: int) -> tuple[str, str, Any]:
        token = self.setup.approver_tokens[approver]
        if self.rng.random() < 0.75:
            variables = {"i": {"dealId": str(deal.id), "message": "OK"}}
            return await self.timed("approve", call(http, token, APPROVE, variables, "approveDeal"))
        variables = {"i": {"dealId": str(deal.id), "comment": "Lower the discount."}}
        return await self.timed(
            "request_changes", call(http, token, REQUEST_CHANGES, variables, "requestDealChanges")
        )

    def retire(self, deal: Deal) -> None:
        self.ledger.uncertain.add(deal.id)
        self.deals.retired.append(deal)


async def run_clients(urls: Sequence[str], clients: int, seconds: float, mix: Mix) -> float:
    """`clients` closed-loop clients (one keep-alive connection each, a second for racing decisions),
    client i on urls[i % len(urls)], until `seconds` have passed; the wall time until the last answer."""
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    # Plain HTTP: verify=False spares each client loading the CA bundle (~20 ms of CPU apiece).
    https = [
        httpx.AsyncClient(base_url=urls[n % len(urls)], limits=limits, timeout=60, verify=False)
        for n in range(clients)
    ]
    start = time.perf_counter()
    deadline = start + seconds

    async def client(http: httpx.AsyncClient) -> None:
        async with http:
            while time.perf_counter() < deadline:
                await mix.step(http)

    await asyncio.gather(*(client(http) for http in https))
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# Subscribers, in a process of their own (`load.py --subscriber-process SPEC OUT`)

SEQUENCE = re.compile(r'"sequence":\s*"(\d+)"')
SEQUENCE_BYTES = re.compile(rb'"sequence":\s*"(\d+)"')


async def subscriber_process(spec: dict[str, Any]) -> dict[str, Any]:
    """Open every subscription (common.RawSubscriber: raw bytes kept, decoded after the run), wait
    until each has the last sequence it should get, then decode what each received."""
    gate = asyncio.Semaphore(50)  # connections being opened at once

    async def open_one(s: dict[str, Any]) -> RawSubscriber:
        variables = {"p": str(spec["pipeline_id"]), "a": str(spec["after"])}
        async with gate:
            return await RawSubscriber.open(
                s["url"], s["token"], SUBSCRIPTIONS[s["kind"]], variables, timeout=60
            )

    subs = await asyncio.wait_for(asyncio.gather(*(open_one(s) for s in spec["subscribers"])), 180)
    print(f"ready {len(subs)}", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    order = json.loads(line)  # {"wait_for": [last sequence expected per subscriber], "timeout": s}
    started = time.time()
    waiting = [(sub, t) for sub, t in zip(subs, order["wait_for"], strict=True) if t]
    while waiting and time.time() - started < order["timeout"]:
        waiting = [(sub, t) for sub, t in waiting if last_sequence(sub.last_text) < t]
        await asyncio.sleep(0.05)
    drained = time.time() - started
    print(f"drained {drained:.2f}", flush=True)
    await asyncio.sleep(order.get("settle", 1.0))  # a duplicate would arrive now
    result = []
    for sub in subs:
        early_close = sub.closed.done()
        sub.close()
        times, sequences, problems = array.array("d"), array.array("q"), []
        for received, raw in sub.frames():
            found = SEQUENCE.search(raw)
            if found and '"next"' in raw and '"errors"' not in raw:
                times.append(received)
                sequences.append(int(found.group(1)))
            elif '"ping"' not in raw and '"pong"' not in raw:
                problems.append(raw[:300])
        if early_close:
            problems.append("the server closed the connection")
        result.append(
            {
                "times": times.tolist(),
                "sequences": sequences.tolist(),
                "problems": problems[:20],
                "reconnects": 0,
            }
        )
    return {"drained_seconds": drained, "cpu_seconds": time.process_time(), "subscribers": result}


def last_sequence(text: bytes) -> int:
    found = SEQUENCE_BYTES.search(text)
    return int(found.group(1)) if found else -1


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@contextlib.asynccontextmanager
async def subscribers(spec: dict[str, Any], logs: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    spec_path, out_path = logs / "subscribers.json", logs / "subscribers.out.json"
    await asyncio.to_thread(write_file, spec_path, json.dumps(spec))
    with (logs / "subscribers.log").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--subscriber-process",
            str(spec_path),
            str(out_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_line(proc: asyncio.subprocess.Process, timeout: float) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"the subscriber process ended (exit {await proc.wait()})")
    return line.decode().strip()


# ---------------------------------------------------------------------------------------------
# Figures and checks


def ms(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = percentiles(values)
    return {
        "count": len(values),
        "p50_ms": round(p50 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def request_figures(requests: Sequence[Request], seconds: float) -> dict[str, Any]:
    by_op: dict[str, list[Request]] = defaultdict(list)
    for r in requests:
        by_op[r.op].append(r)
    errors = [r for r in requests if r.outcome == "error"]
    refused = [r for r in requests if r.outcome == "refused"]
    return {
        "requests": len(requests),
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(requests) / seconds, 1),
        "errors": len(errors),
        "error_rate": round(len(errors) / max(1, len(requests)), 5),
        "refused": len(refused),
        "refused_by_code": dict(Counter(r.detail for r in refused)),
        "error_samples": dict(Counter(r.detail[:160] for r in errors).most_common(8)),
        "latency": {"all": ms([r.seconds for r in requests])}
        | {
            op: ms([r.seconds for r in rs]) | {"errors": sum(r.outcome == "error" for r in rs)}
            for op, rs in sorted(by_op.items())
        },
    }


def in_scope(user_id: int, scope: str, owner_id: int | None, audience: Sequence[int]) -> bool:
    """Who may see an event (DESIGN 2): ALL sees all; OWNED its own records and what it is in the audience of."""
    return scope == "ALL" or owner_id == user_id or user_id in audience


class Expected:
    """The sequences a subscriber must receive: its subscription's events in its scope, in order."""

    def __init__(self, events: Sequence[asyncpg.Record], pipeline_id: int) -> None:
        self.events = [e for e in events if e["pipeline_id"] == pipeline_id]
        self.found: dict[tuple[str, int, str], list[int]] = {}

    def __call__(self, s: dict[str, Any]) -> list[int]:
        key = (s["kind"], s["user_id"], s["scope"])
        if key not in self.found:
            self.found[key] = [
                e["sequence"]
                for e in self.events
                if e["type"].startswith(PREFIX[s["kind"]])
                and in_scope(s["user_id"], s["scope"], e["owner_id"], e["audience"])
            ]
        return self.found[key]


def check_changes(events: Sequence[asyncpg.Record], ledger: Ledger) -> dict[str, Any]:
    """Every committed change has exactly one event, every event a committed change."""
    seen: Counter[tuple[str, Any]] = Counter()
    deal_of: dict[tuple[str, Any], int] = {}
    for e in events:
        payload = json.loads(e["payload"]) if isinstance(e["payload"], str) else e["payload"]
        if e["type"].startswith("approval."):
            key: tuple[str, Any] = (e["type"], payload["approval"]["id"])
        else:
            key = (e["type"], (payload["deal"]["id"], payload["deal"]["version"]))
        seen[key] += 1
        deal_of[key] = e["deal_id"]
    expected: Counter[tuple[str, Any]] = Counter({("deal.moved", k): 1 for k in ledger.moved})
    expected.update({("approval.started", k): 1 for k in ledger.started})
    expected.update({("approval.decided", k): 1 for k in ledger.decided})
    missing = [k for k in expected if seen[k] == 0]
    doubled = [k for k in expected if seen[k] > 1]
    unexplained = [k for k in seen if k not in expected]
    from_failed = [k for k in unexplained if deal_of[k] in ledger.uncertain]
    return {
        "committed_changes": {
            "moves": len(ledger.moved),
            "approvals_started": len(ledger.started),
            "decisions": len(ledger.decided),
        },
        "events_by_type": dict(Counter(e["type"] for e in events)),
        "changes_without_event": len(missing),
        "changes_with_several_events": len(doubled),
        "events_without_known_change": len(unexplained) - len(from_failed),
        "events_of_requests_that_failed": len(from_failed),
        "samples": [str(k) for k in (missing + doubled + unexplained)[:5]],
        "exactly_one_event_per_change": not missing and not doubled and len(unexplained) == len(from_failed),
    }


def check_subscribers(
    spec: Sequence[dict[str, Any]],
    got: Sequence[dict[str, Any]],
    events: Sequence[asyncpg.Record],
    pipeline_id: int,
) -> dict[str, Any]:
    exact = in_order = missing = duplicates = unexpected = 0
    problems: list[str] = []
    expect = Expected(events, pipeline_id)
    for s, g in zip(spec, got, strict=True):
        expected = expect(s)
        received: list[int] = g["sequences"]
        exact += received == expected
        in_order += all(a < b for a, b in itertools.pairwise(received))
        counts, wanted = Counter(received), set(expected)
        missing += len(wanted - counts.keys())
        duplicates += sum(n - 1 for n in counts.values())
        unexpected += len(counts.keys() - wanted)
        problems += g["problems"][:2]
    return {
        "subscribers": len(spec),
        "exactly_their_events_once_in_order": exact,
        "in_order": in_order,
        "missing": missing,
        "duplicates": duplicates,
        "unexpected": unexpected,
        "reconnects": sum(g["reconnects"] for g in got),
        "problems": list(dict.fromkeys(problems))[:10],
    }


def delivery_figures(
    got: Sequence[dict[str, Any]], events: Sequence[asyncpg.Record], ledger: Ledger
) -> dict[str, Any]:
    created = {e["sequence"]: e["created_at"].timestamp() for e in events}
    answered: dict[int, float] = {}
    for e in events:
        payload = json.loads(e["payload"]) if isinstance(e["payload"], str) else e["payload"]
        if e["type"] == "deal.moved":
            t = ledger.moved.get((payload["deal"]["id"], payload["deal"]["version"]))
        elif e["type"] == "approval.started":
            t = ledger.started.get(payload["approval"]["id"])
        elif e["type"] == "approval.decided":
            t = ledger.decided.get(payload["approval"]["id"])
        else:
            t = None
        if t is not None:
            answered[e["sequence"]] = t
    from_created: list[float] = []
    from_answer: list[float] = []
    start = min(created.values(), default=0.0)
    step = max(1.0, (max(created.values(), default=0.0) - start) / 12)
    buckets: dict[int, list[float]] = defaultdict(list)  # by when the event was created
    for g in got:
        for t, seq in zip(g["times"], g["sequences"], strict=True):
            if seq in created:
                from_created.append(t - created[seq])
                buckets[int((created[seq] - start) // step)].append(t - created[seq])
            if seq in answered:
                from_answer.append(t - answered[seq])
    return {
        "deliveries": len(from_created),
        "from_event_created_at": ms(from_created),
        "from_mutation_response": ms(from_answer),
        "over_time": [  # events created in each step of the run: [seconds into the run, p50 ms, p99 ms]
            [round(n * step, 1), ms(lags)["p50_ms"], ms(lags)["p99_ms"]]
            for n, lags in sorted(buckets.items())
        ],
    }


# ---------------------------------------------------------------------------------------------
# The run


class CpuSampler:
    """CPU seconds per second of the servers, the subscriber process, the database and this process:
    every `every` seconds into `timeline`, and between marks (`mark`)."""

    NAMES = ("server_a", "server_b", "subscriber_process", "database", "http_clients")

    def __init__(self, pids: dict[str, int], every: float = 2.0) -> None:
        self.pids, self.every = pids, every
        self.timeline: list[list[float]] = []  # [seconds since start, one share per NAMES]
        self._task: asyncio.Task[None] | None = None

    def read(self) -> tuple[float, dict[str, float]]:
        found = {k: cpu_seconds(pid) for k, pid in self.pids.items()}
        found["database"], found["http_clients"] = database_cpu_seconds(), time.process_time()
        return time.perf_counter(), found

    async def __aenter__(self) -> CpuSampler:
        self.start = self.last_mark = await asyncio.to_thread(self.read)
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @staticmethod
    def shares(a: tuple[float, dict[str, float]], b: tuple[float, dict[str, float]]) -> dict[str, float]:
        seconds = max(1e-9, b[0] - a[0])
        return {k: round((b[1][k] - a[1][k]) / seconds, 2) for k in CpuSampler.NAMES}

    async def mark(self) -> dict[str, float | None]:
        """Shares since the last mark, and its seconds (shares of under a second are too coarse: None)."""
        now = await asyncio.to_thread(self.read)
        seconds, shares = now[0] - self.last_mark[0], self.shares(self.last_mark, now)
        self.last_mark = now
        return {"seconds": round(seconds, 2)} | {k: v if seconds >= 1 else None for k, v in shares.items()}

    async def _sample(self) -> None:
        last = self.start
        while True:
            await asyncio.sleep(self.every)
            now = await asyncio.to_thread(self.read)
            shares = self.shares(last, now)
            self.timeline.append([round(now[0] - self.start[0], 1), *(shares[k] for k in self.NAMES)])
            last = now


@dataclass
class Phase:
    """One run of the mix: its requests and changes, what its subscribers received, the events."""

    ledger: Ledger
    seconds: float
    spec: dict[str, Any]
    got: dict[str, Any]
    events: list[asyncpg.Record]
    appended: int  # every event appended meanwhile (notifications too): what the relay published
    cpu: dict[str, float | None]  # CPU seconds per second of the load, by process
    cpu_draining: dict[str, float | None]  # the same from the end of the load until every subscriber had all
    cpu_timeline: list[list[float]]


async def run_phase(
    name: str, dsn: str, setup: Setup, procs: Sequence[Process], urls: Sequence[str], clients: int,
    seconds: float, subscriber_count: int, mix: Mix, logs: Path, drain_timeout: float,
) -> Phase:  # fmt: skip
    """Subscribers (after the head) connected first; then `clients` for `seconds`; then every
    subscriber waited for until it has the last event of its scope (or `drain_timeout`)."""
    conn = await asyncpg.connect(dsn)
    try:
        head: int = await conn.fetchval("SELECT sequence FROM event_head")
    finally:
        await conn.close()
    spec = subscriber_spec(setup, procs, subscriber_count, head)
    async with subscribers(spec, logs / name) as sub:
        print(f"{name}: subscribers {await read_line(sub, 300)} of {subscriber_count}", flush=True)
        await asyncio.sleep(2.0)  # every subscription set up on its server
        pids = {"server_a": procs[0].popen.pid, "server_b": procs[1].popen.pid, "subscriber_process": sub.pid}
        print(f"{name}: {clients} clients for {seconds:.0f} s", flush=True)
        async with CpuSampler(pids) as sampler:
            took = await run_clients(urls, clients, seconds, mix)
            cpu = await sampler.mark()

            events = await read_events(dsn, setup.pipeline_id, head)
            conn = await asyncpg.connect(dsn)
            try:
                appended: int = await conn.fetchval("SELECT count(*) FROM events WHERE sequence > $1", head)
            finally:
                await conn.close()
            expect = Expected(events, setup.pipeline_id)
            targets = [(expect(s) or [0])[-1] for s in spec["subscribers"]]
            assert sub.stdin is not None
            sub.stdin.write(json.dumps({"wait_for": targets, "timeout": drain_timeout}).encode() + b"\n")
            await sub.stdin.drain()
            await read_line(sub, drain_timeout + 120)  # "drained"
            cpu_draining = await sampler.mark()
        await read_line(sub, 300)  # "done"
        await sub.wait()
        got = json.loads(await asyncio.to_thread((logs / name / "subscribers.out.json").read_text))
    return Phase(mix.ledger, took, spec, got, events, appended, cpu, cpu_draining, sampler.timeline)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="dealflow-load-") as tmp:
        logs = Path(tmp)
        async with fresh_database(server) as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                setup = await load_data(conn, args.deals, args.seed)
            finally:
                await conn.close()
            broadcast_url = {"postgres": dsn, "redis": args.redis_url, "memory": "memory://"}[args.broadcast]
            async with cluster(dsn, broadcast_url, logs, 2) as procs:
                urls = [p.url for p in procs]
                await enable_approvals(urls[0], setup)
                deals = Deals(setup.deals, rng)
                print(f"warm-up: 8 clients for {args.warmup:.0f} s", flush=True)
                await run_clients(urls, 8, args.warmup, Mix(setup, deals, Ledger(), rng, args))
                baseline = await run_phase(
                    "baseline", dsn, setup, procs, urls[:1], 1, args.baseline, BASELINE_SUBSCRIBERS,
                    Mix(setup, deals, Ledger(), rng, args), logs, args.drain_timeout,
                )  # fmt: skip
                loaded = await run_phase(
                    "load", dsn, setup, procs, urls, args.clients, args.duration, args.subscribers,
                    Mix(setup, deals, Ledger(), rng, args), logs, args.drain_timeout,
                )  # fmt: skip
                server_logs = [p.log_problems() for p in procs]
    return summarise(args, setup, loaded, baseline, server_logs)


def subscriber_spec(setup: Setup, procs: Sequence[Process], count: int, head: int) -> dict[str, Any]:
    all_scope = [r for r in setup.readers if r[2] == "ALL"]
    owned = [r for r in setup.readers if r[2] == "OWNED"]
    subs = []
    for i in range(count):
        # 1 in 10 a rep (OWNED), on either subscription; kinds alternate; servers alternate by pairs
        is_rep = i % 20 in (9, 10)
        user_id, token, scope = owned[i // 20 % len(owned)] if is_rep else all_scope[i % len(all_scope)]
        kind = "board" if i % 2 == 0 else "approval"
        server = procs[(i // 2 + i // 20) % len(procs)]
        subs.append({"url": server.ws_url, "token": token, "kind": kind, "user_id": user_id, "scope": scope})
    return {"pipeline_id": setup.pipeline_id, "after": head, "subscribers": subs}


async def read_events(dsn: str, pipeline_id: int, head: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            """
            SELECT sequence, type, payload::text AS payload, owner_id, audience, pipeline_id, deal_id, created_at
              FROM events
             WHERE sequence > $1 AND pipeline_id = $2 AND (type LIKE 'deal.%' OR type LIKE 'approval.%')
             ORDER BY sequence
            """,
            head,
            pipeline_id,
        )
    finally:
        await conn.close()


def phase_figures(phase: Phase, pipeline_id: int) -> dict[str, Any]:
    ledger, subs = phase.ledger, phase.spec["subscribers"]
    figures = request_figures(ledger.requests, phase.seconds)
    delivery = delivery_figures(phase.got["subscribers"], phase.events, ledger)
    delivery["seconds_until_delivered_after_load"] = round(phase.got["drained_seconds"], 2)
    return figures | {
        "mix": dict(Counter(r.op for r in ledger.requests)),
        "events_appended_per_second": round(phase.appended / phase.seconds, 1),
        "decisions_starved": ledger.starved,
        "races": dict(ledger.race_outcomes),
        "unexpected_refusals": dict(ledger.unexpected_refusals),
        "deals_retired_after_errors": len(ledger.uncertain),
        "subscribers": {
            "total": len(subs),
            "board_changed": sum(s["kind"] == "board" for s in subs),
            "deal_approval_changed": sum(s["kind"] == "approval" for s in subs),
            "scope_all": sum(s["scope"] == "ALL" for s in subs),
            "scope_owned": sum(s["scope"] == "OWNED" for s in subs),
        },
        "delivery": delivery,
        "verification": {
            "changes": check_changes(phase.events, ledger),
            "subscribers": check_subscribers(subs, phase.got["subscribers"], phase.events, pipeline_id),
        },
        "cpu_per_second": phase.cpu,
        "cpu_per_second_until_delivered": phase.cpu_draining,
        "cpu_timeline": {"columns": ["seconds", *CpuSampler.NAMES], "rows": phase.cpu_timeline},
    }


def summarise(
    args: argparse.Namespace, setup: Setup, loaded: Phase, baseline: Phase,
    server_logs: Sequence[tuple[int, list[str]]],
) -> dict[str, Any]:  # fmt: skip
    load = phase_figures(loaded, setup.pipeline_id)
    verified = load["verification"]
    return {
        "benchmark": "load",
        "when": now_iso(),
        "machine": machine(),
        "database": database_kind(),
        "broadcast": args.broadcast,
        "servers": 2,
        "clients": args.clients,
        "duration_seconds": args.duration,
        "deals": args.deals,
        "per_stage": PER_STAGE,
        "delivery_latency_from": "events.created_at (now(): the start of the appending transaction); "
        "also from the client's receipt of the mutation's response",
        "load": load,
        "baseline": phase_figures(baseline, setup.pipeline_id) | {"clients": 1},
        "server_logs": [{"problem_lines": n, "samples": lines} for n, lines in server_logs],
        "targets": {"error_rate": ERROR_RATE_TARGET},
        "met": {
            "error_rate": load["error_rate"] < ERROR_RATE_TARGET,
            "exactly_one_event_per_change": verified["changes"]["exactly_one_event_per_change"],
            "every_subscriber_exact": verified["subscribers"]["exactly_their_events_once_in_order"]
            == load["subscribers"]["total"],
        },
    }


def report(s: dict[str, Any]) -> str:
    load, base = s["load"], s["baseline"]
    lines = [
        f"two processes ({s['broadcast']}), {s['clients']} clients, {load['subscribers']['total']} subscribers, "
        f"{s['duration_seconds']:.0f} s; this {s['machine']['cpus']}-core machine runs servers, database and load",
        f"throughput {load['requests_per_second']:,.1f} requests/s ({load['requests']:,} requests); errors "
        f"{load['errors']} ({100 * load['error_rate']:.3f}%, target < {100 * s['targets']['error_rate']:.1f}%); "
        f"refused {load['refused']} {load['refused_by_code']}",
        f"{'operation':<18}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}   baseline (1 client): p50 / p99 ms",
    ]
    for op, x in load["latency"].items():
        b = base["latency"].get(op, {})
        lines.append(
            f"{op:<18}{x['count']:>8}{x['p50_ms']:>10}{x['p99_ms']:>10}{x.get('errors', load['errors']):>8}"
            f"   {b.get('p50_ms')} / {b.get('p99_ms')}"
        )
    for name, phase in (("load", load), ("baseline", base)):
        d, c = phase["delivery"], phase["verification"]["changes"]
        v = phase["verification"]["subscribers"]
        lines += [
            f"{name}: delivery ({d['deliveries']:,}): from created_at p50 {d['from_event_created_at']['p50_ms']} ms, "
            f"p99 {d['from_event_created_at']['p99_ms']} ms, max {d['from_event_created_at']['max_ms']} ms; from the "
            f"mutation's response p50 {d['from_mutation_response']['p50_ms']} ms, p99 "
            f"{d['from_mutation_response']['p99_ms']} ms; all delivered {d['seconds_until_delivered_after_load']} s "
            "after the load stopped",
            f"{name}: changes {c['committed_changes']}: without event {c['changes_without_event']}, with several "
            f"{c['changes_with_several_events']}, events without a known change {c['events_without_known_change']} "
            f"(+{c['events_of_requests_that_failed']} of failed requests)",
            f"{name}: subscribers {v['exactly_their_events_once_in_order']}/{v['subscribers']} got exactly their "
            f"events once in order; missing {v['missing']}, duplicates {v['duplicates']}, unexpected "
            f"{v['unexpected']}, reconnects {v['reconnects']}",
            *[f"  problem: {p}" for p in v["problems"]],
            f"{name}: cpu per second {phase['cpu_per_second']}; until delivered "
            f"{phase['cpu_per_second_until_delivered']}",
        ]
    lines.append(
        f"mix {load['mix']}; races {load['races']}; unexpected refusals {load['unexpected_refusals']}"
    )
    for n, log in enumerate(s["server_logs"]):
        if log["problem_lines"]:
            lines.append(f"server {n} logged {log['problem_lines']} problem lines, e.g. {log['samples'][:3]}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--clients", type=int, default=200, help="concurrent HTTP clients (default 200)")
    p.add_argument("--subscribers", type=int, default=1000, help="WebSocket subscribers (default 1000)")
    p.add_argument("--deals", type=int, default=2000, help="deals in the pipeline (default 2000)")
    p.add_argument(
        "--broadcast",
        choices=["redis", "postgres", "memory"],
        default="redis",
        help="BROADCAST_URL: redis (default), postgres (the app's database), or memory (no broker: each "
        "process reads the outbox itself; for comparison)",
    )
    p.add_argument("--redis-url", default=REDIS_URL, help=f"with --broadcast redis (default {REDIS_URL})")
    p.add_argument("--backlog", type=int, default=50, help="pending approvals the mix keeps (default 50)")
    p.add_argument(
        "--race", type=float, default=0.05, help="share of decisions made by both approvers at once"
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load first (default 3)")
    p.add_argument(
        "--baseline", type=float, default=10.0, help="seconds of the one-client baseline (default 10)"
    )
    p.add_argument("--drain-timeout", type=float, default=180.0, help="seconds to wait for deliveries")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--no-plot", action="store_true", help="do not draw bench/results/load.png")
    p.add_argument("--subscriber-process", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    run: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    if args.subscriber_process:
        spec_path, out_path = args.subscriber_process
        result = run(subscriber_process(json.loads(spec_path.read_text())))
        out_path.write_text(json.dumps(result))
        print("done", flush=True)
        return 0
    summary = run(bench(args))
    print(report(summary))
    write_results(args.out, summary)
    if not args.no_plot and args.out == RESULTS:
        import plots

        plots.draw_available(["load"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
